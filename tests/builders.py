"""Small builders of FHIR R4 JSON for tests: one keyword per field a rule looks at."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
PATIENT_ID = "pat-1"

_ids = itertools.count(1)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def ago(**delta: float) -> str:
    """An ISO time that long before NOW, e.g. ago(days=1)."""
    return iso(NOW - timedelta(**delta))


def _json_number(value: float | str) -> float | str:
    """A value as JSON carries it: a number ("1.4999" becomes the number 1.4999; a text that is no number stays
    text, which FHIR does not allow -- for the tests of unreadable results)."""
    if not isinstance(value, str):
        return value
    try:
        return int(value)
    except ValueError:
        pass
    try:
        return float(value)
    except ValueError:
        return value


def observation(
    code: str,
    value: float | str | None,
    unit: str | None = "/uL",
    *,
    ucum: bool = True,
    when: str | None = None,
    status: str = "final",
    id: str | None = None,
    subject: str | None = f"Patient/{PATIENT_ID}",
    comparator: str | None = None,
    specimen: str | None = None,
    last_updated: str | None = None,
    reference_low: tuple[float, str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """An Observation with a LOINC code and a valueQuantity; `ucum=False` sends only the display unit."""
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": id or f"obs-{next(_ids)}",
        "status": status,
        "code": {"coding": [{"system": LOINC, "code": code}]},
    }
    if subject is not None:
        resource["subject"] = {"reference": subject}
    if when is not None:
        resource["effectiveDateTime"] = when
    if value is not None:
        quantity: dict[str, Any] = {"value": _json_number(value)}
        if unit is not None:
            quantity["unit"] = unit
            if ucum:
                quantity.update(system=UCUM, code=unit)
        if comparator:
            quantity["comparator"] = comparator
        resource["valueQuantity"] = quantity
    if specimen:
        resource["specimen"] = {"reference": specimen}
    if last_updated:
        resource["meta"] = {"lastUpdated": last_updated}
    if reference_low:
        resource["referenceRange"] = [{"low": {"value": reference_low[0], "unit": reference_low[1],
                                               "system": UCUM, "code": reference_low[1]}}]
    resource.update(extra)
    return resource


def anc(value: float, unit: str = "/uL", **kwargs: Any) -> dict[str, Any]:
    """A reported ANC (LOINC 751-8), collected a day before NOW unless `when` says otherwise."""
    kwargs.setdefault("when", ago(days=1))
    return observation("751-8", value, unit, **kwargs)


def patient(birth_date: str | None = "1980-05-01", id: str = PATIENT_ID) -> dict[str, Any]:
    resource: dict[str, Any] = {"resourceType": "Patient", "id": id}
    if birth_date is not None:
        resource["birthDate"] = birth_date
    return resource


def bundle(*resources: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in resources]}


def hook_request(
    *labs: dict[str, Any],
    patient_resource: dict[str, Any] | None = None,
    prefetch: dict[str, Any] | None = None,
    hook: str = "patient-view",
) -> dict[str, Any]:
    """A patient-view request with the patient and the given lab Observations in prefetch."""
    body: dict[str, Any] = {
        "hook": hook,
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "context": {"userId": "Practitioner/example", "patientId": PATIENT_ID},
    }
    body["prefetch"] = prefetch if prefetch is not None else {
        "patient": patient_resource or patient(),
        "labs": bundle(*labs),
    }
    return body


RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


def temperature(value: float | str, unit: str = "Cel", *, code: str = "8310-5", **kwargs: Any) -> dict[str, Any]:
    """A body temperature (Cel or [degF], UCUM), taken an hour before NOW unless `when` says otherwise."""
    kwargs.setdefault("when", ago(hours=1))
    return observation(code, value, unit, **kwargs)


def medication(kind: str, code: str, when: str | None, *, system: str = RXNORM, status: str | None = None,
               **fields: Any) -> dict[str, Any]:
    """A MedicationRequest (authoredOn), MedicationAdministration or MedicationStatement (effectiveDateTime)."""
    resource: dict[str, Any] = {
        "resourceType": kind,
        "id": f"med-{next(_ids)}",
        "status": status or {"MedicationRequest": "active"}.get(kind, "completed"),
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "medicationCodeableConcept": {"coding": [{"system": system, "code": code}]},
    }
    if kind == "MedicationRequest":
        resource["intent"] = "order"
        if when:
            resource["authoredOn"] = when
    elif when:
        resource["effectiveDateTime"] = when
    resource.update(fields)
    return resource


def condition(code: str, system: str = "http://hl7.org/fhir/sid/icd-10-cm", clinical: str = "active",
              verification: str | None = None) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Condition",
        "id": f"cond-{next(_ids)}",
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                       "code": clinical}]},
        "code": {"coding": [{"system": system, "code": code}]},
    }
    if verification:
        resource["verificationStatus"] = {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": verification}]}
    return resource


CVX = "http://hl7.org/fhir/sid/cvx"


def draft(code: str, system: str = RXNORM, *, id: str | None = None, text: str | None = None,
          route: str | None = None, kind: str = "MedicationRequest") -> dict[str, Any]:
    """A draft order: a MedicationRequest (medicationCodeableConcept) or a ServiceRequest (code)."""
    concept: dict[str, Any] = {"coding": [{"system": system, "code": code}]}
    if text:
        concept["text"] = text
    resource: dict[str, Any] = {"resourceType": kind, "id": id or f"draft-{next(_ids)}", "status": "draft",
                                "intent": "order", "subject": {"reference": f"Patient/{PATIENT_ID}"}}
    if kind == "MedicationRequest":
        resource["medicationCodeableConcept"] = concept
        if route:
            resource["dosageInstruction"] = [{"route": {"coding": [{"system": "http://snomed.info/sct",
                                                                    "code": route}]}}]
    else:
        resource["code"] = concept
    return resource


def order_request(hook: str, *labs: dict[str, Any], drafts: list[dict[str, Any]],
                  selections: list[str] | None = None, context_resources: dict[str, list[dict[str, Any]]] | None = None,
                  ) -> dict[str, Any]:
    """An order-select (with selections) or order-sign request, the labs and any context keys in prefetch."""
    body = hook_request(*labs, hook=hook)
    body["context"]["draftOrders"] = bundle(*drafts)
    if selections is not None:
        body["context"]["selections"] = selections
    for key in ("vitals", "labReports", "medicationRequests", "medicationAdministrations", "medicationStatements",
                "procedures", "conditions", "duffy"):
        body["prefetch"][key] = bundle(*(context_resources or {}).get(key, []))
    return body
