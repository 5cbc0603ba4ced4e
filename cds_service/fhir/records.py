"""The boundary where FHIR enters the domain: each resource decoded once, typed (fhir/resources.py), into the plain
facts the rules read (clinical/model.py). Only what a rule reads is kept; the rest of a record is let go as read."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any, NamedTuple

import msgspec

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
from cds_service.clinical.units import UCUM_SYSTEM as UCUM
from cds_service.fhir import resources as fhir
from cds_service.fhir.resources import (
    OtherType,
    Received,
    Unreadable,
    element,
    elements,
    instant,
    read_resource,
)
from cds_service.knowledge import Knowledge
from cds_service.knowledge.vocabulary import Role, canonical_system, status_code

log = logging.getLogger(__name__)


class _Named(msgspec.Struct):
    """What a resource that cannot be read is still known by: its id, code, time and value as sent (nothing else is
    decoded)."""

    id: Any = None
    code: Any = None
    valueQuantity: Any = None  # noqa: N815
    valueString: Any = None  # noqa: N815
    effectiveDateTime: Any = None  # noqa: N815
    effectivePeriod: Any = None  # noqa: N815
    effectiveInstant: Any = None  # noqa: N815
    issued: Any = None


_NAMED = msgspec.json.Decoder(_Named, float_hook=float)  # (a number past a double read as infinite, as in resources.py)


def _named(item: Received) -> dict[str, Any]:
    if isinstance(item, dict):
        return item
    try:
        return msgspec.structs.asdict(_NAMED.decode(item))
    except (msgspec.ValidationError, msgspec.DecodeError):
        return {}


# -- codes -------------------------------------------------------------------------------------------------------------
def raw_codings(concept: Any) -> list[Coding]:
    """Codings of a raw CodeableConcept, for the cheap filter that runs before validation."""
    return [Coding(system, code) for system, code in _raw_pairs(concept)]


def codings_of(concept: fhir.CodeableConcept | None) -> tuple[Coding, ...]:
    """Codings of a typed CodeableConcept (system and code; display is never matched on)."""
    if concept is None:
        return ()
    return tuple(Coding(c.system, c.code) for c in concept.coding if c.code)


def _raw_pairs(concept: Any) -> list[tuple[Any, str]]:
    """(system, code) of each coding of a raw CodeableConcept, for the filters that run before validation. A code sent
    as a JSON integer -- an RxNorm or CVX code a generator wrote as a number, 40048 -- is read as its digits."""
    codings = concept.get("coding") if isinstance(concept, dict) else None
    if not isinstance(codings, list):
        return []
    return [(canonical_system(c.get("system")), code if type(code) is str else str(code)) for c in codings
            if isinstance(c, dict) and type(code := c.get("code")) in (str, int)]


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


def _routes(resource: dict[str, Any]) -> list[Any]:
    """The routes of a medication resource's dosage (MedicationRequest/Statement: a list; Administration: one)."""
    dosages = resource.get("dosageInstruction", resource.get("dosage"))
    dosages = dosages if isinstance(dosages, list) else [dosages]
    return [d.get("route") for d in dosages if isinstance(d, dict)]


def _medication_named(resource: dict[str, Any], medications: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """The Medication a medicationReference names: contained ("#id"), or among the resources sent by the reference as
    it is (a draft's urn:uuid), else by the id it ends with."""
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
    return medications.get(target) or medications.get(
        target.rsplit("Medication/", 1)[-1].split("/", 1)[0])  # (less any /_history/version)


def medication_concept(resource: dict[str, Any], medications: dict[str, dict[str, Any]]) -> MedicationConcept:
    """What a medication resource names (R9 drug identity): codes, Medication.ingredient, names, routes. Read from
    the raw JSON, tolerant of every element no rule reads."""
    route_concepts = _routes(resource)
    routes = tuple(c for route in route_concepts for c in raw_codings(route))
    route_names = tuple(name for route in route_concepts for name in concept_names(route))
    concept = resource.get("medicationCodeableConcept")
    if concept is not None:
        return MedicationConcept(codings=tuple(raw_codings(concept)), names=tuple(concept_names(concept)),
                                 routes=routes, route_names=route_names)
    medication = _medication_named(resource, medications)
    if medication is None:
        reference = resource.get("medicationReference")
        display = reference.get("display") if isinstance(reference, dict) else None
        return MedicationConcept(names=(display,) if isinstance(display, str) else (), routes=routes,
                                 route_names=route_names)
    ingredients = medication.get("ingredient")
    ingredient_codings = tuple(
        c for item in (ingredients if isinstance(ingredients, list) else []) if isinstance(item, dict)
        for c in raw_codings(item.get("itemCodeableConcept")))
    names = concept_names(medication.get("code"))
    for item in ingredients if isinstance(ingredients, list) else []:
        if isinstance(item, dict):
            names += concept_names(item.get("itemCodeableConcept"))
    return MedicationConcept(codings=tuple(raw_codings(medication.get("code"))), ingredient_codings=ingredient_codings,
                             names=tuple(names), routes=routes, route_names=route_names)


def _role(observation: fhir.Observation, knowledge: Knowledge) -> tuple[Role, str] | None:
    """R2: the role of an Observation by its LOINC coding (system + code, never the display)."""
    for coding in observation.code.coding:
        role = knowledge.codes.role_by_code.get(coding.code or "") if coding.system == knowledge.codes.system else None
        if role is not None and coding.code is not None:
            return role, coding.code
    return None


def _raw_role(resource: Any, knowledge: Knowledge) -> tuple[Role, str] | None:
    """The R2 role of a resource that could not be read as an Observation, for the data problem it becomes."""
    concept = resource.get("code") if isinstance(resource, dict) else None
    for system, code in _raw_pairs(concept):
        if system == knowledge.codes.system and code in knowledge.codes.role_by_code:
            return knowledge.codes.role_by_code[code], code
    return None


def _pairs(concept: fhir.CodeableConcept | None) -> list[tuple[str | None, str]]:
    return [(c.system, c.code) for c in concept.coding if c.code] if concept is not None else []


def _quantity(quantity: fhir.Quantity | None) -> Quantity | None:
    value = quantity.decimal if quantity is not None else None
    if quantity is None or value is None:
        return None
    return Quantity(value, quantity.comparator, quantity.unit, quantity.system, quantity.code)


def _effective(zone: tzinfo, date_time: str | None, period: fhir.Period | None,
               moment: str | None = None) -> datetime | None:
    """R1: effectiveDateTime, else effectivePeriod.end, else .start, else effectiveInstant (a date read in `zone`,
    the site's time zone)."""
    found = instant(date_time, zone)
    if found is None and period is not None:
        found = instant(period.end, zone) or instant(period.start, zone)
    return found or instant(moment, zone)


def _reference(reference: fhir.Reference | None) -> str | None:
    return reference.reference if reference is not None else None


def _observation_id(reference: str | None) -> str | None:
    if not reference or "Observation/" not in reference:
        return None
    return reference.split("Observation/", 1)[1].split("/", 1)[0] or None


def _reference_low(ranges: Any) -> Quantity | None:
    """The lab's lower limit, the first `referenceRange.low` (R5's CTCAE grade 1); unknown (None) when it cannot be
    read."""
    for item in ranges if isinstance(ranges, list) else ():
        low = item.get("low") if isinstance(item, dict) else None
        if low is not None:
            try:
                return _quantity(element(low, fhir.Quantity))
            except Unreadable:
                return None
    return None


# -- facts, one kind of resource each ----------------------------------------------------------------------------------
def observation_facts(obs: fhir.Observation, role: Role, loinc: str, effective: datetime | None,
                      zone: tzinfo) -> ObservationFacts:
    """A lab or vital result (R1-R4, R7), collected at `effective` (its own effective[x])."""
    reference_low = _reference_low(obs.referenceRange)
    return ObservationFacts(
        id=obs.id,
        role=role,
        loinc=loinc,
        status=obs.status,  # read in any case by the rules (status_code); said as sent when it is none of theirs
        subject=_reference(obs.subject),
        quantity=_quantity(obs.valueQuantity),
        effective=effective,
        issued=instant(element(obs.issued, str), zone) if effective is None else None,  # R1: what nothing else dates
        last_updated=None,  # read only where R1 needs it: date_versions
        specimen=_reference(obs.specimen),
        reference_low=reference_low,
        data_absent=obs.dataAbsentReason is not None,
        value_text=element(obs.valueString, str) if obs.valueQuantity is None else None,
    )


def coded_observation_facts(obs: fhir.Observation, zone: tzinfo) -> CodedObservationFacts:
    """An Observation that can document Duffy-null status (R8)."""
    return CodedObservationFacts(
        id=obs.id,
        status=status_code(obs.status),
        subject=_reference(obs.subject),
        codings=codings_of(obs.code),
        value_codings=codings_of(element(obs.valueCodeableConcept, fhir.CodeableConcept)),
        value_text=element(obs.valueString, str),
        components=tuple(ComponentFacts(codings_of(c.code), codings_of(c.valueCodeableConcept), c.valueString)
                         for c in elements(obs.component, fhir.Component)),
        specimen=_reference(obs.specimen),
        effective=instant(obs.effectiveDateTime, zone) or instant(element(obs.issued, str), zone),
    )


def panel_facts(obs: fhir.Observation, zone: tzinfo) -> PanelFacts:
    """A CBC or differential panel: its time dates its members, which are one collection (R1, R4)."""
    members = (_observation_id(m.reference) for m in elements(obs.hasMember, fhir.Reference))
    return PanelFacts(obs.id, _effective(zone, obs.effectiveDateTime, obs.effectivePeriod, obs.effectiveInstant),
                      tuple(m for m in members if m))


def report_facts(report: fhir.DiagnosticReport, zone: tzinfo) -> ReportFacts:
    ids = (_contained_id(report, r.reference[1:]) if r.reference and r.reference.startswith("#")
           else _observation_id(r.reference) for r in report.result)
    return ReportFacts(report.id, _effective(zone, report.effectiveDateTime, report.effectivePeriod),
                       tuple(i for i in ids if i))


def _contained_id(report: fhir.DiagnosticReport, local: str) -> str:
    """A result carried inside a report, named in the record: its id is local to the report."""
    return f"{report.id or ''}#{local}"


def with_carried_results(typed: Iterable[tuple[Any, Received]], knowledge: Knowledge
                         ) -> Iterator[tuple[Any, Received]]:
    """Each typed resource, and after it the results it carries inside it: the Observations a DiagnosticReport
    contains (listed in `result` as "#id"), and the components of an Observation with no R2 role of its own (a CBC
    sent as one Observation with a component per count). Results like any other (R1, R2): their ids made the
    record's own; a report's dated by the report and sharing its status where the report's says less (a report
    withdrawn takes them with it), components sharing their Observation's time, status, subject, specimen and
    versions."""
    for resource, item in typed:
        yield resource, item
        if isinstance(resource, fhir.DiagnosticReport) and isinstance(resource.contained, list):
            carried = [_carried_by(resource, inner, knowledge) for inner in resource.contained
                       if isinstance(inner, dict) and inner.get("resourceType") == "Observation"]
        elif isinstance(resource, fhir.Observation) and isinstance(resource.component, list) and (
                _role(resource, knowledge) is None):
            carried = _component_results(msgspec.to_builtins(resource), knowledge)
        else:
            continue
        for inner in carried:
            try:
                yield read_resource(inner), inner
            except Unreadable:
                yield None, inner


# A result carried inside a report (`contained`) has no life of its own (FHIR R4): a report withdrawn or cancelled
# takes it with it (R1: never used), and one not yet final makes it preliminary at most (R1: the card says so).
_REPORT_VOIDS = frozenset({"entered-in-error", "cancelled"})
_REPORT_UNFINISHED = frozenset({"registered", "partial", "preliminary"})


def _carried_by(report: fhir.DiagnosticReport, inner: dict[str, Any], knowledge: Knowledge) -> dict[str, Any]:
    """An Observation a report carries inside it, as a result of the record: its id made the record's own, its status
    the report's where the report's says less."""
    result = dict(inner)
    if isinstance(inner.get("id"), str):
        result["id"] = _contained_id(report, inner["id"])
    status = report.status if isinstance(report.status, str) else None  # (one that is no string says nothing)
    if status in _REPORT_VOIDS:
        result["status"] = status
    elif status in _REPORT_UNFINISHED and isinstance(own := inner.get("status"), str) and (
            own in knowledge.thresholds.usable_statuses):
        result["status"] = "preliminary"
    return result


_SHARED = ("status", "meta", "subject", "effectiveDateTime", "effectivePeriod", "effectiveInstant", "issued",
           "specimen")  # what an Observation's components share with it (FHIR R4: "share the same attributes")
_OWN = ("code", "valueQuantity", "dataAbsentReason", "referenceRange")  # what each component says for itself


def _component_results(whole: dict[str, Any], knowledge: Knowledge) -> list[dict[str, Any]]:
    observation_id = whole.get("id")
    components = whole.get("component")
    found = []
    for index, component in enumerate(components if isinstance(components, list) else []):
        if isinstance(component, dict) and any(system == knowledge.codes.system and code in knowledge.codes.role_by_code
                                               for system, code in _raw_pairs(component.get("code"))):
            result = {"resourceType": "Observation", **{k: whole[k] for k in _SHARED if k in whole},
                      **{k: component[k] for k in _OWN if k in component}}
            if isinstance(observation_id, str):
                result["id"] = f"{observation_id}#component-{index}"
            found.append(result)
    return found


class _Given(NamedTuple):
    """When a medication resource says its drug was given (R7/R8)."""

    start: datetime | None  # given, or the course started; None: no date places it
    course: bool  # over a period, on every day of it
    end: datetime | None = None  # the course's end, if it has one
    later_doses_unknown: bool = False  # an order that says nothing of its doses after its date


def _given(resource: Any, zone: tzinfo) -> _Given:
    """R7/R8: when a dose was given or started -- and whether over a period (a course: an order's dosage bounds or
    duration, or its dose repeating with no bounds, from the order's date while it is active; a statement's or an
    administration's effectivePeriod; a statement dated once -- by effectiveDateTime, else by dateAsserted -- taken
    from then on while it is active), with the period's end if it has one; and whether an order says nothing of its
    doses after its date (no repeat, bounds or count: a sig in words only). An order or a statement that no date
    places is a course from a start not recorded (None): given now while it is active. A date that is no FHIR time
    ("28/07/2026") places nothing, as if absent: the drug is never dropped for it."""
    if isinstance(resource, fhir.MedicationRequest):
        try:  # (a dosage no rule can read gives no start: authoredOn then)
            dosages = elements(resource.dosageInstruction, fhir.Dosage)
        except Unreadable:
            dosages = []
        repeats = [d.timing.repeat for d in dosages if d.timing and d.timing.repeat]
        bounds = [r.boundsPeriod for r in repeats if r.boundsPeriod]
        starts = [found for b in bounds if (found := _dose_time(b.start, zone)) is not None]
        if starts:
            ends = [_course_end(b.end, zone) for b in bounds]
            last = max(e for e in ends if e is not None) if all(ends) else None  # one with no end: on
            return _Given(min(starts), True, last)
        authored = _dose_time(resource.authoredOn, zone)
        lengths = [_length(r.boundsDuration) for r in repeats if r.boundsDuration]
        if authored is not None and lengths and all(lengths):  # "for 14 days", from the order's date
            try:
                return _Given(authored, True, authored + max(length for length in lengths if length is not None))
            except OverflowError:  # past the last day a date can name: no end
                return _Given(authored, True)
        # a dose that repeats ("twice a day") with no bounds: taken from the order's date on while the order is active,
        # as a statement is -- a daily oral antineoplastic ordered weeks ago is being given now
        repeating = any((r.frequency is not None or r.period is not None) and r.count != 1 for r in repeats)
        silent = not any(r.frequency is not None or r.period is not None or r.count is not None for r in repeats)
        return _Given(authored, repeating or authored is None, None, silent)
    try:
        period = element(resource.effectivePeriod, fhir.Period)
    except Unreadable:
        log.warning("the effectivePeriod of a %s is no FHIR Period: read as none", type(resource).__name__)
        period = None
    if resource.effectiveDateTime is not None or period is None:
        given = _dose_time(resource.effectiveDateTime, zone)
        if isinstance(resource, fhir.MedicationStatement):
            # taken then -- the patient's or a clinician's word of that day -- and from then on while its status
            # says so ("active": still being taken)
            return _Given(given or _asserted(resource.dateAsserted, zone), True)
        return _Given(given, False)
    start = _dose_time(period.start, zone)
    return _Given(start, start is not None, _course_end(period.end, zone) if start is not None else None)


def _lenient_time(value: Any, zone: tzinfo, warning: str) -> datetime | None:
    """A time read leniently -- a dose's, a course's end, a statement's date, an unreadable result's: one that is no
    FHIR time, or no string at all, is read as none (with the `warning` logged), so the rest still dates the dose and
    a drug is never dropped for such an element."""
    if value is None:
        return None
    try:
        if isinstance(value, str):
            return instant(value, zone)
    except Unreadable:
        pass
    log.warning(warning)
    return None


def _dose_time(value: Any, zone: tzinfo) -> datetime | None:
    """When a dose was given, an order written or a course started; one that is no FHIR time is read as none."""
    return _lenient_time(value, zone, "a date of a drug is no FHIR time: read as none (undated)")


def _course_end(value: str | None, zone: tzinfo) -> datetime | None:
    """The end of a course; one that is no FHIR time is read as no end -- the start still dates the course."""
    return _lenient_time(value, zone, "the end of a course of a drug or procedure is no FHIR time: read as no end")


def _asserted(value: Any, zone: tzinfo) -> datetime | None:
    """A statement's dateAsserted; one that is no FHIR time is read as none -- the statement is then dated by
    nothing."""
    return _lenient_time(value, zone, "the dateAsserted of a MedicationStatement is no FHIR time: read as none")


_DURATION_UNITS = {"min": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1),
                   "wk": timedelta(weeks=1), "mo": timedelta(days=30.4375), "a": timedelta(days=365.25)}  # UCUM's


def _length(duration: fhir.Quantity | None) -> timedelta | None:
    """A Duration (FHIR: a UCUM time code) as a timedelta; None when it names no time UCUM defines."""
    if duration is None or duration.value is None:
        return None
    unit = duration.code if duration.system == UCUM and duration.code else duration.unit
    step = _DURATION_UNITS.get(unit or "")
    if step is None or not 0 <= duration.value <= 100_000:
        return None
    return step * duration.value


def subject_of(resource: Any) -> str | None:
    """The reference of a medication resource's, a Procedure's or a Condition's subject (R1: whose it is); None when
    there is none to read -- the data came from a search scoped to the patient."""
    subject = resource.subject
    reference = subject.get("reference") if isinstance(subject, dict) else None
    return reference if isinstance(reference, str) else None


def _carried(resource_id: fhir.CarriedId) -> str | None:
    return resource_id if isinstance(resource_id, str) else None


def procedure_facts(procedure: fhir.Procedure, zone: tzinfo) -> ProcedureFacts:
    period, procedure_id = procedure.performedPeriod, _carried(procedure.id)
    if procedure.performedDateTime is not None or period is None:
        return ProcedureFacts(procedure_id, status_code(procedure.status), codings_of(procedure.code),
                              instant(procedure.performedDateTime, zone), subject_of(procedure))
    start = instant(period.start, zone)
    return ProcedureFacts(procedure_id, status_code(procedure.status), codings_of(procedure.code), start,
                          subject_of(procedure),
                          course=start is not None,
                          ended_at=_course_end(period.end, zone) if start is not None else None)


def _status_code(concept: fhir.CodeableConcept | None) -> str | None:
    codes = codings_of(concept)
    return status_code(codes[0].code) if codes and codes[0].code is not None else None


def condition_facts(condition: fhir.Condition) -> ConditionFacts:
    return ConditionFacts(_carried(condition.id), _status_code(condition.clinicalStatus),
                          _status_code(condition.verificationStatus), codings_of(condition.code), subject_of(condition))


BIRTH_TIME = "http://hl7.org/fhir/StructureDefinition/patient-birthTime"  # FHIR R4's extension on Patient.birthDate


def birth_date(patient: Received | None, patient_id: str,
               zone: tzinfo) -> tuple[date | None, str, datetime | None]:
    """R5: the birthDate, its precision ("day", "month", "year"), and the time of birth where the patient-birthTime
    extension gives it; unknown (None) when absent or unreadable."""
    if patient is None:
        return None, "day", None
    try:
        model = read_resource(patient)
        if not isinstance(model, fhir.Patient):
            raise Unreadable("not a Patient")
    except (Unreadable, OtherType):
        log.warning("patient resource failed FHIR validation; age treated as unknown")
        return None, "day", None
    if model.id is not None and model.id != patient_id:
        log.warning("patient resource is not the hook's patient; age treated as unknown")
        return None, "day", None
    # a dateTime sent for the date ("2026-11-24T00:00:00Z", as some converters write every date): its day, counted
    # from midnight as any birthDate is (R5) -- the hour of birth is the birthTime extension's to give
    day = (model.birthDate or "").partition("T")[0]
    parts = day.split("-")
    try:
        if len(parts) == 3:
            born = date.fromisoformat(day)
            return born, "day", _birth_time(model, born, zone)
        if len(parts) in (1, 2) and parts[0]:
            return (date(int(parts[0]), int(parts[1]) if len(parts) > 1 else 1, 1),
                    "month" if len(parts) > 1 else "year", None)
    except ValueError:
        log.warning("patient birthDate is not a FHIR date; age treated as unknown")
    return None, "day", None


def _birth_time(patient: fhir.Patient, born: date, zone: tzinfo) -> datetime | None:
    """R5 counts a date-only birthDate from midnight; the hour of birth, where the birthTime extension gives it on
    the day birthDate names, makes the age exact -- what the limits of the first 72 hours need."""
    element = patient.birthDate_element
    extensions = element.get("extension") if isinstance(element, dict) else None
    for extension in extensions if isinstance(extensions, list) else []:
        if not isinstance(extension, dict) or extension.get("url") != BIRTH_TIME:
            continue
        value = extension.get("valueDateTime")
        value = value if isinstance(value, str) else ""
        try:
            moment = instant(value, zone) if len(value) > len("2026-11-25") else None
        except Unreadable:
            moment = None
        midnight = datetime.combine(born, time.min, tzinfo=UTC)
        # (as a difference of times: a bound worked out past either end of the calendar would overflow)
        if moment is not None and -_EARLIEST_ZONE <= moment - midnight < timedelta(days=1) + _LATEST_ZONE:
            return moment  # on that day in some time zone (birthDate is the local date)
        log.warning("patient birthTime is no time on the day of its birthDate; the birth counts from midnight")
    return None


_EARLIEST_ZONE, _LATEST_ZONE = timedelta(hours=14), timedelta(hours=12)  # UTC+14 (Kiribati) to UTC-12


_MEDICATION_KINDS = {"MedicationRequest": MedicationKind.REQUEST,
                     "MedicationAdministration": MedicationKind.ADMINISTRATION,
                     "MedicationStatement": MedicationKind.STATEMENT}


class Window(msgspec.Struct, frozen=True):
    """Results older than these times change no answer (R6 look-back; R7 fever window) -- but for a fever with no
    ANC in the look-back, when R7 reads the last ANC however old (the caller then builds the record again without a
    window): let go as they are read (filter before building). Undated results and birth weights are always kept."""

    results_since: datetime
    temperatures_since: datetime

    def keeps(self, role: Role, effective: datetime | None) -> bool:
        if effective is None or role is Role.BIRTH_WEIGHT:
            return True
        return effective >= (self.temperatures_since if role is Role.TEMPERATURE else self.results_since)


class _Relevance:
    """Which resources some rule reads (R2, R8, R9): everything else is let go as soon as it is read."""

    def __init__(self, knowledge: Knowledge) -> None:
        self.knowledge = knowledge
        context = knowledge.context
        self.context = context
        self.duffy_codes = knowledge.duffy_observation_codes  # R8
        self.site_codes = context.duffy.site_codes

    def duffy(self, obs: fhir.Observation) -> bool:
        return not self.duffy_codes.isdisjoint(_pairs(obs.code)) or (
            not self.site_codes.isdisjoint(_raw_pairs(obs.valueCodeableConcept)))

    def panel(self, obs: fhir.Observation) -> bool:
        return bool(obs.hasMember) and any(system == self.knowledge.codes.system and code in self.knowledge.codes.panels
                                           for system, code in _pairs(obs.code))

    def procedure(self, procedure: fhir.Procedure) -> bool:
        return any(system == self.context.snomed and code in self.context.chemo_procedure_codes
                   for system, code in _pairs(procedure.code))

    def condition(self, condition: fhir.Condition) -> bool:
        pairs = _pairs(condition.code)
        return any(self.context.cause_named(system, code) for system, code in pairs) or (
            not self.site_codes.isdisjoint(pairs))


def _unreadable(item: Received, knowledge: Knowledge, problems: list[DataProblem]) -> None:
    """R10: a result that cannot be read is said so, never classified; any other resource is skipped with a log
    entry (its type, never its content)."""
    named = _named(item)
    matched = _raw_role(named, knowledge)
    if matched is not None:
        resource_id = named.get("id")
        problems.append(DataProblem(Problem.UNREADABLE, matched[0], matched[1],
                                    resource_id if isinstance(resource_id, str) else None,
                                    _unreadable_time(named, knowledge.zone), sent=_sent_value(named)))
    else:
        log.warning("a resource failed FHIR validation and was skipped")


def _sent_value(named: dict[str, Any]) -> str | None:
    """The value of a result that cannot be read, as sent, when it is text: a number sent as a string ("0.3"), or a
    valueString ("<0.1") -- for the clinician to read on the data-problem card, never for a rule."""
    quantity = named.get("valueQuantity")
    value = quantity.get("value") if isinstance(quantity, dict) else named.get("valueString")
    return value if isinstance(value, str) else None


def _unreadable_time(named: dict[str, Any], zone: tzinfo) -> datetime | None:
    """When a result that cannot be read was collected -- its own effective[x], else `issued` (R1) -- so that R6 can
    tell whether it is newer than the current ANC (then a card says it could not be read); None when no time of it
    can be read either."""
    period = named.get("effectivePeriod")
    period = period if isinstance(period, dict) else {}
    for value in (named.get("effectiveDateTime"), period.get("end"), period.get("start"),
                  named.get("effectiveInstant"), named.get("issued")):
        found = _lenient_time(value, zone, "a time of a result that cannot be read is no FHIR time: read as none")
        if found is not None:
            return found
    return None


@dataclass
class _Facts:
    """What build_record gathers, kind by kind."""

    observations: list[ObservationFacts] = field(default_factory=list)
    coded: list[CodedObservationFacts] = field(default_factory=list)
    panels: list[PanelFacts] = field(default_factory=list)
    reports: list[ReportFacts] = field(default_factory=list)
    procedures: list[ProcedureFacts] = field(default_factory=list)
    conditions: list[ConditionFacts] = field(default_factory=list)
    unreadable: list[DataProblem] = field(default_factory=list)
    medications: list[MedicationFacts] = field(default_factory=list)
    medication_resources: dict[str, dict[str, Any]] = field(default_factory=dict)  # Medication by id (R9)
    medication_orders: list[Any] = field(default_factory=list)  # read once every Medication is known
    # each Observation id kept -> its results' places in `observations`, their meta as sent, and what each was
    # decoded from (R1 versions)
    versions: dict[str, list[tuple[int, Any, Received]]] = field(default_factory=dict)
    # results older than the window, with an id: (id, how many results were kept before it, what it was decoded
    # from) -- one may yet be the later version of a result kept (R1)
    set_aside: list[tuple[str, int, Received]] = field(default_factory=list)


def decode(resources: Iterable[Received]) -> Iterator[tuple[Any, Received]]:
    """Step 1: each resource decoded once into the Struct of its type -- None for one whose elements that a rule
    reads are not of their type (R10) -- with what it was decoded from. A type no rule reads is let go."""
    for item in resources:
        try:
            yield read_resource(item), item
        except OtherType:
            continue
        except Unreadable:
            yield None, item


def sort_facts(typed: Iterable[tuple[Any, Received]], knowledge: Knowledge, window: Window | None,
               facts: _Facts) -> None:
    """Step 2: each typed resource a rule reads, as the facts of its kind (a result only when recent enough to
    change an answer; one that cannot be read, a data problem: R10); Medications, and the medication resources that
    may name them, set aside until every Medication is known."""
    relevant, zone = _Relevance(knowledge), knowledge.zone
    for resource, item in typed:
        if resource is None:  # the elements a rule reads are not of their FHIR type
            _unreadable(item, knowledge, facts.unreadable)
            continue
        try:
            if isinstance(resource, fhir.Observation):
                matched = _role(resource, knowledge)
                if matched is not None:
                    effective = _effective(zone, resource.effectiveDateTime, resource.effectivePeriod,
                                           resource.effectiveInstant)
                    if window is None or window.keeps(matched[0], effective):
                        facts.observations.append(observation_facts(resource, *matched, effective, zone))
                        if resource.id is not None:
                            facts.versions.setdefault(resource.id, []).append(
                                (len(facts.observations) - 1, resource.meta, item))
                    elif resource.id is not None:
                        facts.set_aside.append((resource.id, len(facts.observations), item))
                elif relevant.panel(resource):
                    facts.panels.append(panel_facts(resource, zone))
                elif relevant.duffy(resource):
                    facts.coded.append(coded_observation_facts(resource, zone))
            elif isinstance(resource, fhir.DiagnosticReport):
                if resource.result:
                    facts.reports.append(report_facts(resource, zone))
            elif isinstance(resource, fhir.MedicationRequest | fhir.MedicationAdministration
                            | fhir.MedicationStatement):
                facts.medication_orders.append(resource)
            elif isinstance(resource, fhir.Medication):
                if resource.id is not None:  # what an order names (R9 drug identity)
                    facts.medication_resources[resource.id] = {"code": resource.code, "ingredient": resource.ingredient}
            elif isinstance(resource, fhir.Procedure):
                if relevant.procedure(resource):
                    facts.procedures.append(procedure_facts(resource, zone))
            elif isinstance(resource, fhir.Condition) and relevant.condition(resource):
                facts.conditions.append(condition_facts(resource))
        except Unreadable:  # a time that is no FHIR time
            _unreadable(item, knowledge, facts.unreadable)


def date_versions(knowledge: Knowledge, facts: _Facts) -> None:
    """Step 3: R1 chooses between versions of one Observation id by meta.lastUpdated, so it is read where an id was
    sent more than once, and only there -- versions set aside as older than the window included: a version whose
    lastUpdated is no FHIR time cannot be placed among the others (a data problem, R10), while a result sent once is
    read whatever its metadata says."""
    dropped: set[int] = set()
    older: dict[str, list[tuple[int, Received]]] = {}  # versions set aside of results kept
    for observation_id, kept_before, item in facts.set_aside:
        if observation_id in facts.versions:
            older.setdefault(observation_id, []).append((kept_before, item))
    for observation_id, sent in facts.versions.items():
        aside = older.get(observation_id)
        versions = _read_back(sent, aside, knowledge, facts, dropped) if aside else sent
        if len(versions) < 2:
            continue
        for index, stamp, item in versions:
            try:
                meta = element(stamp, fhir.Meta)
                dated = instant(meta.lastUpdated if meta is not None else None, knowledge.zone)
            except Unreadable:
                _unreadable(item, knowledge, facts.unreadable)
                dropped.add(index)
                continue
            facts.observations[index] = msgspec.structs.replace(facts.observations[index], last_updated=dated)
    if dropped:
        facts.observations = [o for i, o in enumerate(facts.observations) if i not in dropped]


def _read_back(kept: list[tuple[int, Any, Received]], older: list[tuple[int, Received]], knowledge: Knowledge,
               facts: _Facts, moved: set[int]) -> list[tuple[int, Any, Received]]:
    """A result kept, and versions of it set aside as older than the window: one of those may be the later version (a
    correction that dates the result earlier), so R1 must choose among them all -- the window changes no answer.
    They are read back, and all of this id's versions go to the end of `observations` in the order they were sent
    (R1's last resort); the places they leave are `moved`."""
    # (one set aside after k results were kept was sent before the result kept at place k)
    sent = sorted([(index, True, stamp, item) for index, stamp, item in kept]
                  + [(before, False, None, item) for before, item in older], key=lambda version: version[:2])
    placed: list[tuple[int, Any, Received]] = []
    for index, was_kept, kept_stamp, item in sent:
        stamp = kept_stamp
        if was_kept:
            facts.observations.append(facts.observations[index])
            moved.add(index)
        else:
            resource = read_resource(item)  # decoded, given a role and dated before, when it was set aside
            matched = _role(resource, knowledge)
            if matched is None:  # (never)
                continue
            facts.observations.append(observation_facts(resource, *matched, _effective(
                knowledge.zone, resource.effectiveDateTime, resource.effectivePeriod, resource.effectiveInstant),
                knowledge.zone))
            stamp = resource.meta
        placed.append((len(facts.observations) - 1, stamp, item))
    return placed


def _names(model: fhir.MedicationRequest | fhir.MedicationAdministration | fhir.MedicationStatement
           ) -> dict[str, Any]:
    """The elements of a typed medication resource that `medication_concept` reads, as the JSON they were sent as."""
    named = {"medicationCodeableConcept": model.medicationCodeableConcept,
             "medicationReference": model.medicationReference, "contained": model.contained}
    if isinstance(model, fhir.MedicationRequest):
        named["dosageInstruction"] = model.dosageInstruction
    else:
        named["dosage"] = model.dosage
    return named


def identify_medications(knowledge: Knowledge, facts: _Facts) -> None:
    """Step 4: each medication resource by what it names (R9 drug identity); kept only when a rule reads it."""
    for model in facts.medication_orders:
        if isinstance(model, fhir.MedicationRequest) and model.doNotPerform is True:
            continue  # an order that the drug NOT be given: no dose, no drug taken (FHIR's modifier doNotPerform)
        concept = medication_concept(_names(model), facts.medication_resources)
        identity = identify(concept, knowledge.context)
        if not identity.recognised:
            continue
        given = _given(model, knowledge.zone)  # (every date read leniently: a drug is never dropped for one)
        facts.medications.append(MedicationFacts(_carried(model.id), _MEDICATION_KINDS[type(model).__name__],
                                                 status_code(model.status), concept, identity, given.start,
                                                 subject_of(model), given.course, given.end, given.later_doses_unknown))


def build_record(
    patient_id: str,
    patient: Received | None,
    resources: Iterable[Received],
    knowledge: Knowledge,
    unavailable: tuple[DataKind, ...] = (),
    partial: tuple[DataKind, ...] = (),
    window: Window | None = None,
) -> PatientRecord:
    """A PatientRecord from FHIR resources -- decoded dicts, or the bytes received -- each decoded once, typed, and
    kept only when a rule reads it (and, with a window, only when recent enough to change an answer): decode, sort
    into facts, date the versions of a result, identify the medications, date the patient's birth."""
    facts = _Facts()
    sort_facts(with_carried_results(decode(resources), knowledge), knowledge, window, facts)
    date_versions(knowledge, facts)
    identify_medications(knowledge, facts)
    born, precision, born_at = birth_date(patient, patient_id, knowledge.zone)
    return PatientRecord(
        patient_id=patient_id,
        birth_date=born,
        birth_date_precision=precision,
        birth_time=born_at,
        observations=tuple(facts.observations),
        reports=tuple(facts.reports),
        panels=tuple(facts.panels),
        unreadable=tuple(facts.unreadable),
        medications=tuple(facts.medications),
        procedures=tuple(facts.procedures),
        conditions=tuple(facts.conditions),
        coded_observations=tuple(facts.coded),
        unavailable=unavailable,
        partial=partial,
    )
