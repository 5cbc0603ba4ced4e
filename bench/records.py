"""Generated patient records for the benchmark: small, typical and heavy hook requests."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _observation(id: str, code: str, value: float, unit: str, when: datetime) -> dict[str, Any]:
    return {
        "resourceType": "Observation", "id": id, "status": "final",
        "meta": {"lastUpdated": _iso(when + timedelta(hours=2))},
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                  "code": "laboratory"}]}],
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "subject": {"reference": "Patient/bench-1"},
        "effectiveDateTime": _iso(when),
        "issued": _iso(when + timedelta(hours=1)),
        "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit},
        "referenceRange": [{"low": {"value": 1.5, "unit": "10*3/uL", "system": UCUM, "code": "10*3/uL"}}]
        if code == "751-8" else [],
    }


def _bundle(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset", "total": len(resources),
            "entry": [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r, "search": {"mode": "match"}}
                      for r in resources]}


def _request(labs: list[dict[str, Any]], **extra: list[dict[str, Any]]) -> dict[str, Any]:
    prefetch: dict[str, Any] = {
        "patient": {"resourceType": "Patient", "id": "bench-1", "birthDate": "1968-04-12", "gender": "female"},
        "labs": _bundle(labs),
    }
    for key in ("vitals", "labReports", "medicationRequests", "medicationAdministrations", "medicationStatements",
                "procedures", "conditions", "duffy"):
        prefetch[key] = _bundle(extra.get(key, []))
    return {"hook": "patient-view", "hookInstance": "0b8b6f36-8f5c-4b2e-9a53-0e8f8a8a3b11",
            "context": {"userId": "Practitioner/bench", "patientId": "bench-1"}, "prefetch": prefetch}


def empty() -> dict[str, Any]:
    """A Patient and ten empty Bundles: what a call costs before any result is read (the fixed cost)."""
    return _request([])


def small() -> dict[str, Any]:
    """A Patient and 20 ANC Observations (LOINC 751-8) over 20 weeks; the latest normal."""
    rng = random.Random(1)
    labs = [_observation(f"anc-{i}", "751-8", round(rng.uniform(1.8, 4.5), 2), "10*3/uL", NOW - timedelta(weeks=i))
            for i in range(20)]
    return _request(labs)


def typical() -> dict[str, Any]:
    """10 CBCs with differential over 60 days (~40 Observations), 10 temperatures, 5 MedicationRequests,
    5 Conditions; the latest ANC moderate, so a card is rendered."""
    rng = random.Random(2)
    labs = []
    for i in range(10):
        when = NOW - timedelta(days=6 * i + 1)
        wbc = round(rng.uniform(2.0, 6.0), 1)
        neutrophils = 0.8 if i == 0 else round(rng.uniform(1.6, 3.5), 2)
        labs += [_observation(f"wbc-{i}", "6690-2", wbc, "10*3/uL", when),
                 _observation(f"pct-{i}", "770-8", round(100 * neutrophils / wbc, 1), "%", when),
                 _observation(f"anc-{i}", "751-8", neutrophils, "10*3/uL", when),
                 _observation(f"lym-{i}", "731-0", round(rng.uniform(0.8, 2.0), 2), "10*3/uL", when)]
    temps = [_observation(f"t-{i}", "8310-5", round(rng.uniform(36.4, 37.6), 1), "Cel", NOW - timedelta(hours=8 * i))
             for i in range(10)]
    meds = [{"resourceType": "MedicationRequest", "id": f"mr-{i}", "status": "active", "intent": "order",
             "subject": {"reference": "Patient/bench-1"}, "authoredOn": "2026-06-01",
             "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": code}]}}
            for i, code in enumerate(["197361", "314076", "2002", "860975", "197884"])]
    conditions = [{"resourceType": "Condition", "id": f"c-{i}", "subject": {"reference": "Patient/bench-1"},
                   "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                                  "code": "active"}]},
                   "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": code}]}}
                  for i, code in enumerate(["I10", "E11.9", "M06.9", "J45.909", "K21.9"])]
    return _request(labs, vitals=temps, medicationRequests=meds, conditions=conditions)


def heavy(count: int = 5000) -> dict[str, Any]:
    """`count` Observations: years of ANC, WBC and differential results, the latest normal."""
    rng = random.Random(3)
    codes = [("751-8", "10*3/uL", 1.8, 4.5), ("6690-2", "10*3/uL", 4.0, 9.0), ("770-8", "%", 45, 70),
             ("731-0", "10*3/uL", 1.0, 3.0)]
    labs = []
    for i in range(count):
        code, unit, low, high = codes[i % len(codes)]
        when = NOW - timedelta(days=(i // len(codes)) * 2 + 1)
        labs.append(_observation(f"h-{i}", code, round(rng.uniform(low, high), 2), unit, when))
    return _request(labs)


RECORDS = {"empty": empty, "small": small, "typical": typical, "heavy": heavy}


def distinct(make: Any, count: int = 2000) -> list[dict[str, Any]]:
    """`count` different patients made from one record, as a hospital sends them: each its own patient id, resource
    ids and hookInstance, its values moved a little (by up to 2 %, never across a severity band by design of the
    generated values' spread) -- so nothing the service may have seen before is sent again."""
    rng = random.Random(7)
    records = []
    for n in range(count):
        record = make()
        patient = f"bench-{n}"
        record["hookInstance"] = f"0b8b6f36-8f5c-4b2e-9a53-{n:012d}"
        record["context"]["patientId"] = patient
        record["prefetch"]["patient"]["id"] = patient
        for bundle in record["prefetch"].values():
            for entry in bundle.get("entry", []):
                resource = entry["resource"]
                resource["id"] = f"{resource['id']}-{n}"
                entry["fullUrl"] = f"urn:uuid:{resource['id']}"
                if "subject" in resource:
                    resource["subject"]["reference"] = f"Patient/{patient}"
                quantity = resource.get("valueQuantity")
                if quantity is not None:
                    quantity["value"] = round(quantity["value"] * rng.uniform(0.99, 1.01), 3)
        records.append(record)
    return records
