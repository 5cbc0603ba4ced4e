"""The boundary where FHIR enters the domain: filter raw JSON by code, validate with fhir.resources R4B, map."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, time
from functools import partial as partial_fn
from typing import Any, TypeVar

import msgspec
from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.diagnosticreport import DiagnosticReport
from fhir.resources.R4B.medicationadministration import MedicationAdministration
from fhir.resources.R4B.medicationrequest import MedicationRequest
from fhir.resources.R4B.medicationstatement import MedicationStatement
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.procedure import Procedure
from pydantic import ValidationError

from cds_service.clinical.drugs import identify
from cds_service.clinical.model import (
    CodedObservationFacts,
    Coding,
    ComponentFacts,
    ConditionFacts,
    DataKind,
    DataProblem,
    MedicationConcept,
    MedicationFacts,
    MedicationKind,
    ObservationFacts,
    PanelFacts,
    PatientRecord,
    Problem,
    ProcedureFacts,
    Quantity,
    ReportFacts,
)
from cds_service.fhir.validated import ValidatedCache
from cds_service.fhir.wire import ELEMENTS_READ, decode_entry
from cds_service.knowledge import Knowledge
from cds_service.knowledge.vocabulary import Role

log = logging.getLogger(__name__)
T = TypeVar("T")


def _instant(value: Any) -> datetime | None:
    """A FHIR date/dateTime/instant as an aware datetime in UTC; a date counts from midnight UTC; partial dates ->
    None. In UTC itself, not only aware: the validator's own time zone objects make every later comparison of two
    times ~10x slower (each asks both for their offset)."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        try:
            return value.astimezone(UTC)
        except OverflowError:  # 9999-12-31T23:00:00-02:00 is past the last representable instant: undated
            return None
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
    system, role_by_code = knowledge.codes.system, knowledge.codes.role_by_code
    for coding in codings:
        if isinstance(coding, dict) and coding.get("system") == system:
            loinc = coding.get("code")
            if isinstance(loinc, str) and (role := role_by_code.get(loinc)) is not None:
                return role, loinc
    return None


def _read_only(resource: dict[str, Any]) -> dict[str, Any]:
    """The elements some rule reads (fhir/wire.py): what is validated, whichever way the resource came (prefetch,
    the FHIR fallback, a file), so the same resource is accepted or skipped the same way on every path."""
    return {k: v for k, v in resource.items() if k in _ANY_RULE_READS}


_ANY_RULE_READS = frozenset(ELEMENTS_READ)

# The elements the rules read (R1-R4, R10); the rest of an Observation -- narrative, notes, performers,
# interpretation, components -- is not validated, since nothing here uses it.
_READ_ELEMENTS = frozenset({"resourceType", "id", "meta", "status", "code", "subject", "effectiveDateTime",
                            "effectivePeriod", "effectiveInstant", "issued", "dataAbsentReason", "specimen",
                            "referenceRange"})


def _elements_read(resource: dict[str, Any]) -> dict[str, Any]:
    slim = {k: v for k, v in resource.items() if k in _READ_ELEMENTS or k.startswith("value")}
    meta = slim.get("meta")
    if isinstance(meta, dict):
        slim["meta"] = {k: v for k, v in meta.items() if k == "lastUpdated"}
    return slim


def _observation_facts(resource: dict[str, Any], role: Role, loinc: str) -> ObservationFacts:
    obs = Observation.model_validate(_elements_read(resource))
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
    report = DiagnosticReport.model_validate(_read_only(resource))
    effective = _instant(report.effectiveDateTime)
    if effective is None and report.effectivePeriod is not None:
        effective = _instant(report.effectivePeriod.end) or _instant(report.effectivePeriod.start)
    ids = (_observation_id(r.reference) for r in report.result or [])
    return ReportFacts(id=report.id, effective=effective, results=tuple(i for i in ids if i))


def _panel_facts(resource: dict[str, Any]) -> PanelFacts:
    panel = Observation.model_validate(_read_only(resource))
    effective = _instant(panel.effectiveDateTime) or _instant(panel.effectiveInstant)
    if effective is None and panel.effectivePeriod is not None:
        effective = _instant(panel.effectivePeriod.end) or _instant(panel.effectivePeriod.start)
    ids = (_observation_id(r.reference) for r in panel.hasMember or [])
    return PanelFacts(id=panel.id, effective=effective, members=tuple(i for i in ids if i))


def _is_panel(resource: dict[str, Any], knowledge: Knowledge) -> bool:
    """R1: a CBC or differential panel that lists its results in hasMember."""
    return bool(resource.get("hasMember")) and any(
        system == knowledge.codes.system and code in knowledge.codes.panels
        for system, code in _raw_pairs(resource.get("code")))


def _birth_date(patient: dict[str, Any] | None, patient_id: str) -> tuple[date | None, str]:
    if patient is None:
        return None, "day"
    try:
        model = Patient.model_validate(_read_only(patient))
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

_MEDICATION_MODELS: dict[str, tuple[MedicationKind, Any]] = {
    "MedicationRequest": (MedicationKind.REQUEST, MedicationRequest),
    "MedicationAdministration": (MedicationKind.ADMINISTRATION, MedicationAdministration),
    "MedicationStatement": (MedicationKind.STATEMENT, MedicationStatement),
}


def raw_codings(concept: Any) -> list[Coding]:
    """Codings of a raw CodeableConcept, for the cheap filter that runs before validation."""
    return [Coding(system, code) for system, code in _raw_pairs(concept)]


def codings_of(concept: Any) -> tuple[Coding, ...]:
    """Codings of a validated CodeableConcept model."""
    if concept is None:
        return ()
    return tuple(Coding(c.system, c.code) for c in concept.coding or [] if c.code)


class _ContextFilter:
    """R8/R9 relevance of raw resources, checked before paying for validation."""

    def __init__(self, knowledge: Knowledge) -> None:
        context = knowledge.context
        self.context = context
        self.site_codes = context.duffy.site_codes
        self.observation_codes = knowledge.duffy_observation_codes  # R8

    def procedure(self, pairs: list[tuple[Any, str]]) -> bool:
        return any(system == self.context.snomed and code in self.context.chemo_procedure_codes
                   for system, code in pairs)

    def condition(self, pairs: list[tuple[Any, str]]) -> bool:
        return any(self.context.cause_named(system, code) for system, code in pairs) or (
            not self.site_codes.isdisjoint(pairs))

    def coded_observation(self, resource: dict[str, Any]) -> bool:
        return not self.observation_codes.isdisjoint(_raw_pairs(resource.get("code"))) or (
            not self.site_codes.isdisjoint(_raw_pairs(resource.get("valueCodeableConcept"))))


def _raw_pairs(concept: Any) -> list[tuple[Any, str]]:
    """(system, code) of each coding of a raw CodeableConcept, for the filters that run before validation."""
    codings = concept.get("coding") if isinstance(concept, dict) else None
    if not isinstance(codings, list):
        return []
    return [(c.get("system"), code) for c in codings if isinstance(c, dict) and isinstance(code := c.get("code"), str)]


def concept_names(concept: Any) -> list[str]:
    """A raw CodeableConcept's text and its codings' displays (R9 evidence 4)."""
    if not isinstance(concept, dict):
        return []
    found = [concept["text"]] if isinstance(concept.get("text"), str) else []
    codings = concept.get("coding")
    for coding in codings if isinstance(codings, list) else []:
        if isinstance(coding, dict) and isinstance(coding.get("display"), str):
            found.append(coding["display"])
    return [name for name in found if name.strip()]


def _routes(resource: dict[str, Any]) -> list[Coding]:
    """Route codes of a medication resource's dosage (MedicationRequest/Statement: a list; Administration: one)."""
    dosages = resource.get("dosageInstruction", resource.get("dosage"))
    dosages = dosages if isinstance(dosages, list) else [dosages]
    return [c for d in dosages if isinstance(d, dict) for c in raw_codings(d.get("route"))]


def _medication_named(resource: dict[str, Any], medications: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """The Medication a medicationReference names: contained ("#id"), or by id among the resources sent."""
    reference = resource.get("medicationReference")
    target = reference.get("reference") if isinstance(reference, dict) else None
    if not isinstance(target, str):
        return None
    if target.startswith("#"):
        contained = resource.get("contained")
        for item in contained if isinstance(contained, list) else []:
            if isinstance(item, dict) and item.get("id") == target[1:]:
                return item
        return None
    return medications.get(target.rsplit("Medication/", 1)[-1])


def medication_concept(resource: dict[str, Any], medications: dict[str, dict[str, Any]]) -> MedicationConcept:
    """What a medication resource names (R9 drug identity): codes, Medication.ingredient, names, routes. Read from
    the raw JSON, tolerant of every element no rule reads."""
    routes = tuple(_routes(resource))
    concept = resource.get("medicationCodeableConcept")
    if concept is not None:
        return MedicationConcept(codings=tuple(raw_codings(concept)), names=tuple(concept_names(concept)),
                                 routes=routes)
    medication = _medication_named(resource, medications)
    if medication is None:
        reference = resource.get("medicationReference")
        display = reference.get("display") if isinstance(reference, dict) else None
        return MedicationConcept(names=(display,) if isinstance(display, str) else (), routes=routes)
    ingredients = medication.get("ingredient")
    ingredient_codings = tuple(
        c for item in (ingredients if isinstance(ingredients, list) else []) if isinstance(item, dict)
        for c in raw_codings(item.get("itemCodeableConcept")))
    names = concept_names(medication.get("code"))
    for item in ingredients if isinstance(ingredients, list) else []:
        if isinstance(item, dict):
            names += concept_names(item.get("itemCodeableConcept"))
    return MedicationConcept(codings=tuple(raw_codings(medication.get("code"))), ingredient_codings=ingredient_codings,
                             names=tuple(names), routes=routes)


def _earliest(*moments: datetime | None) -> datetime | None:
    found = [m for m in moments if m is not None]
    return min(found) if found else None


def _medication_facts(resource: dict[str, Any], concept: MedicationConcept) -> MedicationFacts:
    kind, model_class = _MEDICATION_MODELS[resource["resourceType"]]
    model = model_class.model_validate(_read_only(resource))
    if kind is MedicationKind.REQUEST:
        starts = [
            _instant(d.timing.repeat.boundsPeriod.start)
            for d in model.dosageInstruction or []
            if d.timing and d.timing.repeat and d.timing.repeat.boundsPeriod
        ]
        started = _earliest(*starts) or _instant(model.authoredOn)
    else:
        period = model.effectivePeriod
        started = _instant(model.effectiveDateTime) or (_instant(period.start) if period else None)
    return MedicationFacts(id=model.id, kind=kind, status=str(model.status), concept=concept, started_at=started)


def _procedure_facts(resource: dict[str, Any]) -> ProcedureFacts:
    model = Procedure.model_validate(_read_only(resource))
    period = model.performedPeriod
    performed = _instant(model.performedDateTime) or (_instant(period.start) if period else None)
    return ProcedureFacts(model.id, str(model.status), codings_of(model.code), performed)


def _status_code(concept: Any) -> str | None:
    codes = codings_of(concept)
    return codes[0].code if codes else None


def _condition_facts(resource: dict[str, Any]) -> ConditionFacts:
    model = Condition.model_validate(_read_only(resource))
    return ConditionFacts(model.id, _status_code(model.clinicalStatus), _status_code(model.verificationStatus),
                          codings_of(model.code))


def _coded_observation_facts(resource: dict[str, Any]) -> CodedObservationFacts:
    model = Observation.model_validate(_read_only(resource))
    components = tuple(
        ComponentFacts(codings_of(c.code), codings_of(c.valueCodeableConcept), c.valueString)
        for c in model.component or []
    )
    return CodedObservationFacts(
        id=model.id,
        status=str(model.status),
        subject=model.subject.reference if model.subject is not None else None,
        codings=codings_of(model.code),
        value_codings=codings_of(model.valueCodeableConcept),
        value_text=model.valueString,
        components=components,
        specimen=model.specimen.reference if model.specimen is not None else None,
        effective=_instant(model.effectiveDateTime) or _instant(model.issued),
    )



def _raw_time(resource: dict[str, Any]) -> datetime | None:
    """The Observation's own effective[x] from the raw JSON (R1 order), for choosing what to validate."""
    value = resource.get("effectiveDateTime")  # each looked up only when the one before is no text
    if not isinstance(value, str):
        value = resource.get("effectiveInstant")
    if not isinstance(value, str):
        period = resource.get("effectivePeriod")
        period = period if isinstance(period, dict) else {}
        value = period.get("end")
        if not isinstance(value, str):
            value = period.get("start")
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None  # partial or malformed: validation decides
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _last_updated(stamp: Any) -> datetime:
    """R1: a version's meta.lastUpdated as sent, as a time (none, or not a time: earlier than any)."""
    return _raw_time({"effectiveDateTime": stamp}) or datetime.min.replace(tzinfo=UTC)


class SentResult:
    """A lab or vital Observation as sent (R2 role known): what R1 reads of it before validating -- its version,
    status and time -- and, once validated, its facts. Read once per content: fhir/validated.py remembers it by the
    bytes received."""

    __slots__ = ("facts", "id", "loinc", "moment", "role", "status", "updated")

    def __init__(self, resource: dict[str, Any], role: Role, loinc: str) -> None:
        resource_id, meta, status = resource.get("id"), resource.get("meta"), resource.get("status")
        self.role = role
        self.loinc = loinc
        self.id = resource_id if isinstance(resource_id, str) else None
        self.updated = _last_updated(meta.get("lastUpdated") if isinstance(meta, dict) else None)
        self.status = status if isinstance(status, str) else None  # not text: validation decides
        self.moment = _raw_time(resource)
        self.facts: ObservationFacts | Problem | None = None  # Problem.UNREADABLE when it failed validation


def _sent_result(resource: dict[str, Any], knowledge: Knowledge) -> SentResult | None:
    """R2: the resource as a result this service reads, or None (another type, or a code no rule reads)."""
    matched = _role(resource, knowledge) if resource.get("resourceType") == "Observation" else None
    return SentResult(resource, *matched) if matched is not None else None


def _received_result(data: bytes, knowledge: Knowledge) -> SentResult | None:
    resource = decode_entry(data)
    return _sent_result(resource, knowledge) if isinstance(resource, dict) else None


_Source = dict[str, Any] | bytes  # what a result is validated from: its dict, or its bytes as received


def _result_facts(sent: SentResult, source: _Source,
                  cache: ValidatedCache | None) -> ObservationFacts | Problem:
    """The facts of a result worth validating, validated once (R10: UNREADABLE when it is no valid Observation)."""
    if sent.facts is None:
        make = partial_fn(_observation_facts, role=sent.role, loinc=sent.loinc)
        try:
            if isinstance(source, bytes):  # remembered on the SentResult, itself remembered by these bytes
                sent.facts = make(decode_entry(source))
            else:
                sent.facts = make(source) if cache is None else cache.get(f"obs:{sent.role}:{sent.loinc}", source, make)
        except ValidationError:
            sent.facts = Problem.UNREADABLE
    return sent.facts


_UNREAD = object()
_NOTHING_REMEMBERED: dict[bytes, Any] = {}  # (without a cache)


class Horizon(msgspec.Struct, frozen=True):
    """Which dated lab Observations are worth validating (filter before validating): those collected after
    `since`; temperatures only within the fever window. Undated ones and birth weights always are."""

    since: datetime
    temperatures_since: datetime


def build_record(
    patient_id: str,
    patient: dict[str, Any] | None,
    resources: Iterable[dict[str, Any] | msgspec.Raw],
    knowledge: Knowledge,
    unavailable: tuple[DataKind, ...] = (),
    partial: tuple[DataKind, ...] = (),
    horizon: Horizon | None = None,
    cache: ValidatedCache | None = None,
) -> PatientRecord:
    """A PatientRecord from raw FHIR JSON -- decoded resources, or a Bundle's as received (wire.as_received): only
    resources a rule reads are validated and kept. With a horizon, older dated results are left unvalidated and
    counted in `deferred`."""
    relevant = _ContextFilter(knowledge)

    def validated(kind: str, resource: dict[str, Any], make: Callable[[dict[str, Any]], T]) -> T:
        return make(resource) if cache is None else cache.get(kind, resource, make)

    usable = knowledge.thresholds.usable_statuses
    temperature, birth_weight = Role.TEMPERATURE, Role.BIRTH_WEIGHT  # looked up once: they are read per result
    read_received = partial_fn(_received_result, knowledge=knowledge)
    remembered: Callable[[bytes, Any], Any] = _NOTHING_REMEMBERED.get
    if cache is not None:
        read_received = partial_fn(cache.get_received, make=read_received)
        remembered = cache.received()

    # One pass, each resource looked at as it comes and let go unless kept: of the versions of one Observation id
    # only the later meta.lastUpdated counts (R1), so for each id the latest version so far is remembered -- with
    # what to validate it from (its bytes as received, or its dict) only when it is worth validating.
    latest: dict[str, tuple[SentResult, _Source | None, bool]] = {}  # id -> (latest version, source if kept, deferred)
    kept_without_id: list[tuple[SentResult, _Source]] = []
    deferred_without_id = 0
    others: list[dict[str, Any]] = []
    medication_resources: dict[str, dict[str, Any]] = {}
    for item in resources:
        resource: Any = item
        source: _Source = item
        if isinstance(item, msgspec.Raw):  # a prefetch Bundle's resource as received (fhir/wire.py)
            source = bytes(item)
            sent = remembered(source, _UNREAD)  # (a result sent before: one dict read, no call of a Python function)
            if sent is _UNREAD:
                sent = read_received(source)
            if sent is None:  # no result a rule reads: decoded, and looked at as any resource
                resource = decode_entry(source)
                if not isinstance(resource, dict):
                    continue
        else:
            sent = _sent_result(item, knowledge)
        if sent is not None:
            previous = latest.get(sent.id) if sent.id is not None else None
            if previous is not None and sent.updated < previous[0].updated:
                continue  # R1: an earlier version of a result already seen
            # worth validating? R1 status, then the horizon (filter before validating)
            role, moment = sent.role, sent.moment
            keep, deferred_one = True, False
            if sent.status is not None and sent.status not in usable:
                keep = False  # R1: never used -- no need to validate it
            elif horizon is not None and role is not birth_weight and moment is not None and (
                    moment < (horizon.temperatures_since if role is temperature else horizon.since)):
                keep, deferred_one = False, role is not temperature
            if sent.id is None:
                if keep:
                    kept_without_id.append((sent, source))
                deferred_without_id += deferred_one
            else:
                latest[sent.id] = (sent, source if keep else None, deferred_one)
            continue
        kind = resource.get("resourceType")
        if kind == "Medication":
            if isinstance(resource.get("id"), str):
                medication_resources[resource["id"]] = resource
        elif (
            kind in _MEDICATION_MODELS  # read once every Medication they may name is known
            or (kind == "Observation" and (relevant.coded_observation(resource) or _is_panel(resource, knowledge)))
            or (kind == "DiagnosticReport" and resource.get("result"))
            or (kind == "Procedure" and relevant.procedure(_raw_pairs(resource.get("code"))))
            or (kind == "Condition" and relevant.condition(_raw_pairs(resource.get("code"))))
        ):
            others.append(resource)
    selected: list[tuple[SentResult, _Source]] = []
    deferred = deferred_without_id
    for sent, kept, deferred_one in latest.values():  # (one loop, not a comprehension and a sum: no frame each)
        if kept is not None:
            selected.append((sent, kept))
        deferred += deferred_one
    selected += kept_without_id
    observations: list[ObservationFacts] = []
    coded: list[CodedObservationFacts] = []
    reports: list[ReportFacts] = []
    panels: list[PanelFacts] = []
    medications: list[MedicationFacts] = []
    procedures: list[ProcedureFacts] = []
    conditions: list[ConditionFacts] = []
    unreadable: list[DataProblem] = []
    for sent, kept in selected:
        facts = sent.facts if sent.facts is not None else _result_facts(sent, kept, cache)  # (read before: no call)
        if isinstance(facts, ObservationFacts):
            observations.append(facts)
        else:
            unreadable.append(DataProblem(facts, sent.role, sent.loinc, sent.id, None))
    for resource in others:  # each passed its filter above, medications apart
        kind = resource.get("resourceType")
        try:
            if kind == "Observation" and _is_panel(resource, knowledge):
                panels.append(validated("panel", resource, _panel_facts))
            elif kind == "Observation":
                coded.append(validated("coded", resource, _coded_observation_facts))
            elif kind == "DiagnosticReport":
                reports.append(validated("report", resource, _report_facts))
            elif kind in _MEDICATION_MODELS:
                concept = medication_concept(resource, medication_resources)
                if identify(concept, knowledge.context).recognised:  # R9 drug identity: only what a rule reads
                    medications.append(validated(f"medication:{concept}", resource,
                                                 partial_fn(_medication_facts, concept=concept)))
            elif kind == "Procedure":
                procedures.append(validated("procedure", resource, _procedure_facts))
            elif kind == "Condition":
                conditions.append(validated("condition", resource, _condition_facts))
        except ValidationError:
            # R10: an invalid resource is skipped with a log entry; the id is not PHI, the content may be.
            log.warning("a %s failed FHIR validation and was skipped", kind)
    if patient is not None and cache is not None:
        birth_date, precision = cache.get(f"patient:{patient_id}", patient,
                                          partial_fn(_birth_date, patient_id=patient_id))
    else:
        birth_date, precision = _birth_date(patient, patient_id)
    return PatientRecord(
        patient_id=patient_id,
        birth_date=birth_date,
        birth_date_precision=precision,
        observations=tuple(observations),
        reports=tuple(reports),
        panels=tuple(panels),
        unreadable=tuple(unreadable),
        medications=tuple(medications),
        procedures=tuple(procedures),
        conditions=tuple(conditions),
        coded_observations=tuple(coded),
        unavailable=unavailable,
        partial=partial,
        deferred=deferred,
    )
