"""The boundary where FHIR enters the domain: filter raw JSON by code, validate with fhir.resources R4B, map."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, date, datetime, time
from typing import Any

from fhir.resources.R4B.diagnosticreport import DiagnosticReport
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient
from pydantic import ValidationError

from cds_service.clinical.model import (
    DataProblem,
    ObservationFacts,
    PatientRecord,
    Problem,
    Quantity,
    ReportFacts,
    Role,
)
from cds_service.knowledge import Knowledge

log = logging.getLogger(__name__)


def _instant(value: Any) -> datetime | None:
    """A FHIR date/dateTime/instant as an aware datetime; a date counts from midnight UTC; partial dates -> None."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime.combine(value, time.min, tzinfo=UTC)
    return None  # "2026" or "2026-11": too imprecise to date a result (R1: never "current")


def _quantity(model: Any) -> Quantity | None:
    if model is None or model.value is None:
        return None
    return Quantity(value=model.value, comparator=model.comparator, unit=model.unit, system=model.system,
                    code=model.code)


def _role(resource: dict[str, Any], knowledge: Knowledge) -> tuple[Role, str] | None:
    """R2: the role of an Observation by its LOINC coding (system + code, never the display)."""
    code = resource.get("code")
    codings = code.get("coding") if isinstance(code, dict) else None
    if not isinstance(codings, list):
        return None
    for coding in codings:
        if isinstance(coding, dict) and coding.get("system") == knowledge.codes.system:
            role = knowledge.codes.role_by_code.get(coding.get("code"))  # type: ignore[arg-type]
            if role is not None:
                return role, str(coding["code"])
    return None


def _observation_facts(resource: dict[str, Any], role: Role, loinc: str) -> ObservationFacts:
    obs = Observation.model_validate(resource)
    effective = _instant(obs.effectiveDateTime) or _instant(obs.effectiveInstant)
    if effective is None and obs.effectivePeriod is not None:
        effective = _instant(obs.effectivePeriod.end) or _instant(obs.effectivePeriod.start)
    reference_low = None
    for reference_range in obs.referenceRange or []:
        if reference_range.low is not None:
            reference_low = _quantity(reference_range.low)
            break
    return ObservationFacts(
        id=obs.id,
        role=role,
        loinc=loinc,
        status=str(obs.status),
        subject=obs.subject.reference if obs.subject is not None else None,
        quantity=_quantity(obs.valueQuantity),
        effective=effective,
        issued=_instant(obs.issued),
        last_updated=_instant(obs.meta.lastUpdated) if obs.meta is not None else None,
        specimen=obs.specimen.reference if obs.specimen is not None else None,
        reference_low=reference_low,
        data_absent=obs.dataAbsentReason is not None,
    )


def _observation_id(reference: str | None) -> str | None:
    if not reference or "Observation/" not in reference:
        return None
    return reference.split("Observation/", 1)[1].split("/", 1)[0] or None


def _report_facts(resource: dict[str, Any]) -> ReportFacts:
    report = DiagnosticReport.model_validate(resource)
    effective = _instant(report.effectiveDateTime)
    if effective is None and report.effectivePeriod is not None:
        effective = _instant(report.effectivePeriod.end) or _instant(report.effectivePeriod.start)
    ids = (_observation_id(r.reference) for r in report.result or [])
    return ReportFacts(id=report.id, effective=effective, results=tuple(i for i in ids if i))


def _birth_date(patient: dict[str, Any] | None, patient_id: str) -> tuple[date | None, str]:
    if patient is None:
        return None, "day"
    try:
        model = Patient.model_validate(patient)
    except ValidationError:
        log.warning("patient resource failed FHIR validation; age treated as unknown")
        return None, "day"
    if model.id is not None and model.id != patient_id:
        log.warning("patient resource is not the hook's patient; age treated as unknown")
        return None, "day"
    birth = model.birthDate
    if isinstance(birth, date):
        return birth, "day"
    if isinstance(birth, str):  # partial: "2020" or "2020-05"
        parts = birth.split("-")
        try:
            return date(int(parts[0]), int(parts[1]) if len(parts) > 1 else 1, 1), (
                "month" if len(parts) > 1 else "year")
        except ValueError:
            return None, "day"
    return None, "day"


def build_record(
    patient_id: str,
    patient: dict[str, Any] | None,
    resources: Iterable[dict[str, Any]],
    knowledge: Knowledge,
) -> PatientRecord:
    """A PatientRecord from raw FHIR JSON: only Observations with an R2 code are validated and kept."""
    observations: list[ObservationFacts] = []
    reports: list[ReportFacts] = []
    unreadable: list[DataProblem] = []
    for resource in resources:
        kind = resource.get("resourceType")
        if kind == "Observation":
            matched = _role(resource, knowledge)
            if matched is None:
                continue  # filter before validating: only R2 codes are worth the validation cost
            try:
                observations.append(_observation_facts(resource, *matched))
            except ValidationError:
                resource_id = resource.get("id")
                unreadable.append(DataProblem(Problem.UNREADABLE, matched[0], matched[1],
                                              resource_id if isinstance(resource_id, str) else None, None))
        elif kind == "DiagnosticReport" and resource.get("result"):
            try:
                reports.append(_report_facts(resource))
            except ValidationError:
                log.warning("a DiagnosticReport failed FHIR validation and was skipped")
    birth_date, precision = _birth_date(patient, patient_id)
    return PatientRecord(
        patient_id=patient_id,
        birth_date=birth_date,
        birth_date_precision=precision,
        observations=tuple(observations),
        reports=tuple(reports),
        unreadable=tuple(unreadable),
    )
