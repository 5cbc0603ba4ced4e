"""R1: which Observations count, when each was collected, and their values in canonical units (R3)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import msgspec

from cds_service.clinical.model import (
    DataProblem,
    LabResult,
    ObservationFacts,
    PanelFacts,
    PatientRecord,
    Problem,
    Quantity,
    ReportFacts,
)
from cds_service.clinical.units import normalise
from cds_service.knowledge import Knowledge, Units
from cds_service.knowledge.vocabulary import Measure, Role, status_code


class ReadResults(msgspec.Struct, frozen=True):
    """The usable results of a record, the ones that could not be read, and how many were another patient's."""

    results: tuple[LabResult, ...]
    problems: tuple[DataProblem, ...]
    other_patient: int


def is_patient_reference(reference: str | None, patient_id: str) -> bool:
    """R1: True when `reference` names the hook's patient (relative, or absolute with a base URL, or as the
    `urn:uuid:` of a record built as a Bundle, Synthea's, whose patient's id is that UUID).

    A missing reference is accepted: the data came from a search scoped to the patient.
    """
    if reference is None:
        return True
    path = reference.split("/_history/", 1)[0]
    return (path == f"Patient/{patient_id}" or path.endswith(f"/Patient/{patient_id}")
            or path == f"urn:uuid:{patient_id}")


def latest_versions(observations: tuple[ObservationFacts, ...]) -> list[ObservationFacts]:
    """R1: of two versions of one Observation id, the later meta.lastUpdated wins (then the later one sent)."""
    chosen: dict[str, ObservationFacts] = {}
    without_id: list[ObservationFacts] = []
    for obs in observations:
        if obs.id is None:
            without_id.append(obs)
            continue
        kept = chosen.get(obs.id)
        if kept is None or _version_key(obs) >= _version_key(kept):
            chosen[obs.id] = obs
    return [*chosen.values(), *without_id]


def _version_key(obs: ObservationFacts) -> tuple[bool, datetime]:
    return (obs.last_updated is not None, obs.last_updated or datetime.min)


def _panel_index(panels: tuple[PanelFacts, ...]) -> dict[str, PanelFacts]:
    """R1: each result id -> the CBC or differential panel that lists it in hasMember."""
    index: dict[str, PanelFacts] = {}
    for panel in panels:
        for observation_id in panel.members:
            index.setdefault(observation_id, panel)
    return index


def _report_index(reports: tuple[ReportFacts, ...], panels: tuple[PanelFacts, ...]) -> dict[str, ReportFacts]:
    """R1: each result id -> the DiagnosticReport that lists it, or the panel holding it, in `result`."""
    members = {panel.id: panel.members for panel in panels if panel.id}
    index: dict[str, ReportFacts] = {}
    for report in reports:
        for listed in report.results:
            index.setdefault(listed, report)
            for observation_id in members.get(listed, ()):
                index.setdefault(observation_id, report)
    return index


def _normalise(obs: ObservationFacts, measure: Measure, units: Units) -> tuple[Decimal | Problem, Decimal | None]:
    """R3: the result's value (or why it cannot be read) and its reference range's low, in canonical units."""
    assert obs.quantity is not None  # (read_results asks only of results with a value)
    value = normalise(obs.quantity, measure, units)
    reference_low = None
    if obs.reference_low is not None and not isinstance(value, Problem):
        low = normalise(obs.reference_low, measure, units)
        reference_low = None if isinstance(low, Problem) else low
    return value, reference_low


def _sent_unit(quantity: Quantity) -> str | None:
    """The unit a result was sent with, for the card: its UCUM code, else its display unit."""
    return quantity.code if quantity.system and quantity.code else quantity.unit


def read_results(record: PatientRecord, knowledge: Knowledge) -> ReadResults:
    """Apply R1 (versions, subject, status, absent values, collection time) and R3 (units) to a record."""
    thresholds = knowledge.thresholds
    usable, preliminary = thresholds.usable_statuses, thresholds.preliminary_statuses
    never = thresholds.never_statuses
    lowest_temperature, highest_temperature = thresholds.body_temperature_from_c, thresholds.body_temperature_to_c
    measure_by_role, units = knowledge.codes.measure_by_role, knowledge.units
    reports = _report_index(record.reports, record.panels)
    panels = _panel_index(record.panels)
    results: list[LabResult] = []
    problems: list[DataProblem] = list(record.unreadable)
    other_patient = 0
    for obs in latest_versions(record.observations):
        status = status_code(obs.status)  # in any case: "Final" is final
        if status in never:
            continue  # R1: registered, cancelled, entered-in-error, unknown -- never used
        if not is_patient_reference(obs.subject, record.patient_id):
            other_patient += 1
            continue
        report = reports.get(obs.id) if obs.id else None
        panel = panels.get(obs.id) if obs.id else None
        # R1: effective[x], else the listing panel's, else the listing DiagnosticReport's, else issued.
        collected_at = (obs.effective or (panel.effective if panel else None) or (report.effective if report else None)
                        or obs.issued)
        if status not in usable:  # no FHIR status: not known to be usable -- said, never used (R10)
            problems.append(DataProblem(Problem.UNKNOWN_STATUS, obs.role, obs.loinc, obs.id, collected_at,
                                        sent=obs.status))
            continue
        if obs.quantity is None:
            if not obs.data_absent:
                problems.append(DataProblem(Problem.NOT_A_QUANTITY, obs.role, obs.loinc, obs.id, collected_at,
                                            sent=obs.value_text))
            continue  # R1: dataAbsentReason and no value -- ignored
        value, reference_low = _normalise(obs, measure_by_role[obs.role], units)
        if isinstance(value, Problem):
            problems.append(DataProblem(value, obs.role, obs.loinc, obs.id, collected_at, _sent_unit(obs.quantity)))
            continue
        if obs.role is Role.TEMPERATURE and not lowest_temperature <= value <= highest_temperature:
            # R10: no living patient's body temperature (a scale sent as the other) -- said, never read as one
            problems.append(DataProblem(Problem.NOT_A_BODY_TEMPERATURE, obs.role, obs.loinc, obs.id, collected_at,
                                        _sent_unit(obs.quantity), sent=str(obs.quantity.value)))
            continue
        results.append(
            LabResult(
                observation_id=obs.id,
                role=obs.role,
                loinc=obs.loinc,
                value=value,
                comparator=obs.quantity.comparator,
                collected_at=collected_at,
                preliminary=status in preliminary,
                specimen=obs.specimen,
                report=report.id if report else None,
                reference_low=reference_low,
                panel=panel.id if panel else None,
            )
        )
    return ReadResults(tuple(results), tuple(problems), other_patient)
