"""The FHIR R4 elements the rules read, as msgspec Structs: one typed decode, in C, straight from the bytes received
(or from a decoded dict), tolerant of every element not read and strict on the ones read -- a value that is not a
number, a status that is not a string, a time that is no FHIR time make the resource unreadable (R10)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo
from decimal import Decimal
from typing import Annotated, Any, TypeVar

import msgspec

from cds_service.knowledge.vocabulary import SYSTEM_URLS, canonical_system


# (A coding's display, a concept's text and a reference's display are matched by no rule on these resources: not
# decoded, so never a reason to find a resource unreadable. Medications are named by their JSON: medication_concept.)
class Coding(msgspec.Struct, frozen=True):
    system: str | None = None
    code: str | None = None

    def __post_init__(self) -> None:
        if self.system is not None and self.system not in SYSTEM_URLS:
            msgspec.structs.force_setattr(self, "system", canonical_system(self.system))


class CodeableConcept(msgspec.Struct, frozen=True):
    coding: list[Coding] = []


class Reference(msgspec.Struct, frozen=True):
    reference: str | None = None


_LARGEST = 1e300  # past a double's range is no laboratory value
# A JSON number (a string is not one: unreadable); a decimal past the range fails in the decode itself (NaN too).
Number = int | Annotated[float, msgspec.Meta(ge=-_LARGEST, le=_LARGEST)]


# A comparator as converters write it -- HTML-escaped, as a CDA's text carries it ("&lt;"), or as one sign ("≤") --
# is FHIR's: the same bound, never a guess.
_COMPARATOR_SPELLINGS = {"&lt;": "<", "&lt;=": "<=", "\u2264": "<=", "&gt;": ">", "&gt;=": ">=", "\u2265": ">="}


class Quantity(msgspec.Struct, frozen=True):
    value: Number | None = None
    comparator: str | None = None
    unit: str | None = None
    system: str | None = None
    code: str | None = None

    def __post_init__(self) -> None:
        if self.system is not None and self.system not in SYSTEM_URLS:  # (UCUM's OID or another spelling of its URL)
            msgspec.structs.force_setattr(self, "system", canonical_system(self.system))
        if self.comparator is not None and self.comparator in _COMPARATOR_SPELLINGS:
            msgspec.structs.force_setattr(self, "comparator", _COMPARATOR_SPELLINGS[self.comparator])

    @property
    def decimal(self) -> Decimal | None:
        """The value exactly as sent: an integer as it is, a decimal by the shortest text that reads back as it;
        Unreadable for an integer past the range."""
        if self.value is None:
            return None
        if isinstance(self.value, int):
            if not -_LARGEST <= self.value <= _LARGEST:
                raise Unreadable("a value past the range of a double")
            return Decimal(self.value)
        return Decimal(repr(self.value))


class Period(msgspec.Struct, frozen=True):
    start: str | None = None
    end: str | None = None


class Meta(msgspec.Struct, frozen=True):
    lastUpdated: str | None = None  # noqa: N815 -- FHIR's names, here and below


class Component(msgspec.Struct, frozen=True):
    code: CodeableConcept | None = None
    valueCodeableConcept: CodeableConcept | None = None  # noqa: N815
    valueString: str | None = None  # noqa: N815


class Observation(msgspec.Struct, frozen=True, tag="Observation", tag_field="resourceType"):
    status: str
    code: CodeableConcept
    id: str | None = None
    meta: Any = None  # read only where R1 orders versions of one id (`element`, fhir/records.py: date_versions)
    subject: Reference | None = None
    effectiveDateTime: str | None = None  # noqa: N815
    effectivePeriod: Period | None = None  # noqa: N815
    effectiveInstant: str | None = None  # noqa: N815
    issued: Any = None  # read only where nothing else dates the result (R1)
    valueQuantity: Quantity | None = None  # noqa: N815
    specimen: Reference | None = None
    # read leniently (`_reference_low`, fhir/records.py): a range no rule can read leaves the lab's lower limit unknown
    # (the CTCAE grade 1 indeterminate, R5), never the result unreadable
    referenceRange: Any = None  # noqa: N815
    dataAbsentReason: Any = None  # noqa: N815 -- only whether there is one is read
    # Read only of some Observations (Duffy results, panels): typed where they are read (`element`), so a malformed
    # one never makes a lab result unreadable.
    valueCodeableConcept: Any = None  # noqa: N815
    valueString: Any = None  # noqa: N815
    component: Any = None
    hasMember: Any = None  # noqa: N815


class DiagnosticReport(msgspec.Struct, frozen=True, tag="DiagnosticReport", tag_field="resourceType"):
    id: str | None = None
    status: Any = None  # read leniently, only for the results it carries inside it (`_carried_by`, fhir/records.py)
    effectiveDateTime: str | None = None  # noqa: N815
    effectivePeriod: Period | None = None  # noqa: N815
    result: list[Reference] = []
    contained: Any = None  # results a report carries inside it ("#id"), read as the Observations they are


class Patient(msgspec.Struct, frozen=True, tag="Patient", tag_field="resourceType"):
    id: str | None = None
    birthDate: str | None = None  # noqa: N815
    birthDate_element: Any = msgspec.field(default=None, name="_birthDate")  # noqa: N815 -- its extensions (birthTime)


class Repeat(msgspec.Struct, frozen=True):
    boundsPeriod: Period | None = None  # noqa: N815
    boundsDuration: Quantity | None = None  # noqa: N815 -- "for 14 days"
    # whether the dose repeats ("twice a day") -- read for their presence only, so never a reason to find the
    # resource unreadable -- and how many times in all ("count": 1 is one dose)
    frequency: Any = None
    period: Any = None
    count: Any = None


class Timing(msgspec.Struct, frozen=True):
    repeat: Repeat | None = None


class Dosage(msgspec.Struct, frozen=True):
    route: CodeableConcept | None = None
    timing: Timing | None = None


# The id of a resource whose id no rule reads (medications, procedures, conditions): carried to its facts when it is
# a string, and never a reason to find the resource unreadable.
CarriedId = Any


class DrugNaming(msgspec.Struct, frozen=True, kw_only=True):
    """What a medication resource names (R9 drug identity), read leniently (`medication_concept`): a malformed name
    never makes a dose unreadable."""

    medicationCodeableConcept: Any = None  # noqa: N815
    medicationReference: Any = None  # noqa: N815
    contained: Any = None  # the Medication a reference "#id" names


class MedicationRequest(DrugNaming, frozen=True, tag="MedicationRequest", tag_field="resourceType"):
    status: str
    id: CarriedId = None
    subject: Any = None  # read leniently (`subject_of`): whose it is, never a reason to drop it
    # its bounds are read leniently (`element`): a draft-like dosage; its routes by `medication_concept`
    dosageInstruction: Any = None  # noqa: N815
    authoredOn: Any = None  # noqa: N815 -- read leniently (`_given`): a drug is never dropped for its date
    doNotPerform: Any = None  # noqa: N815 -- FHIR's modifier: true orders that the drug NOT be given (no dose)


class MedicationAdministration(DrugNaming, frozen=True, tag="MedicationAdministration", tag_field="resourceType"):
    status: str
    id: CarriedId = None
    subject: Any = None  # read leniently (`subject_of`): whose it is, never a reason to drop it
    # read leniently (`_given`): a drug is never dropped for its date
    effectiveDateTime: Any = None  # noqa: N815
    effectivePeriod: Any = None  # noqa: N815
    dosage: Any = None  # its route, read by `medication_concept`


class MedicationStatement(DrugNaming, frozen=True, tag="MedicationStatement", tag_field="resourceType"):
    status: str
    id: CarriedId = None
    subject: Any = None  # read leniently (`subject_of`): whose it is, never a reason to drop it
    # read leniently (`_given`): a drug is never dropped for its date
    effectiveDateTime: Any = None  # noqa: N815
    effectivePeriod: Any = None  # noqa: N815
    dateAsserted: Any = None  # noqa: N815 -- dates a statement with no effective[x], read leniently (`_given`)
    dosage: Any = None  # its routes, read by `medication_concept`


class Procedure(msgspec.Struct, frozen=True, tag="Procedure", tag_field="resourceType"):
    status: str
    id: CarriedId = None
    subject: Any = None  # read leniently (`subject_of`): whose it is, never a reason to drop it
    code: CodeableConcept | None = None
    performedDateTime: str | None = None  # noqa: N815
    performedPeriod: Period | None = None  # noqa: N815


class Condition(msgspec.Struct, frozen=True, tag="Condition", tag_field="resourceType"):
    id: CarriedId = None
    subject: Any = None  # read leniently (`subject_of`)
    clinicalStatus: CodeableConcept | None = None  # noqa: N815
    verificationStatus: CodeableConcept | None = None  # noqa: N815
    code: CodeableConcept | None = None


class Medication(msgspec.Struct, frozen=True, tag="Medication", tag_field="resourceType"):
    """What a medication order names (R9 drug identity), read leniently (`medication_concept`)."""

    id: str | None = None
    code: Any = None
    ingredient: Any = None


Received = dict[str, Any] | bytes | msgspec.Raw  # a resource decoded, or its bytes as received
TYPES: dict[str, type[msgspec.Struct]] = {
    "Observation": Observation, "DiagnosticReport": DiagnosticReport, "Patient": Patient,
    "MedicationRequest": MedicationRequest, "MedicationAdministration": MedicationAdministration,
    "MedicationStatement": MedicationStatement, "Procedure": Procedure, "Condition": Condition,
    "Medication": Medication,
}
Resource = (Observation | DiagnosticReport | Patient | MedicationRequest | MedicationAdministration
            | MedicationStatement | Procedure | Condition | Medication)
# An element decoded loosely (Any) may hold a number past a double's range, which JSON allows: read as infinite, so
# that it makes unreadable only what a rule reads of it (a Number refuses it), never the resource around it.
_RESOURCE = msgspec.json.Decoder(Resource, float_hook=float)


class OtherType(Exception):
    """A resource of a type no rule reads (or no resource at all)."""


def read_resource(resource: Received) -> Any:
    """A resource as the Struct of its type, in one decode; OtherType for a type no rule reads, Unreadable for one of
    the types read whose elements that a rule reads are not of their FHIR type."""
    try:
        if isinstance(resource, dict):  # (to its own type: converting to the union builds the union's decoder anew)
            name = resource.get("resourceType")
            kind = TYPES.get(name) if isinstance(name, str) else None
            if kind is None:
                raise OtherType(str(name))
            return msgspec.convert(resource, kind)
        return _RESOURCE.decode(resource)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        name = resource.get("resourceType") if isinstance(resource, dict) else _kind_of(resource)
        if isinstance(name, str) and name in TYPES:  # (a resourceType that is no string names no type)
            raise Unreadable(str(exc)) from None
        raise OtherType(str(name)) from None


class _Kind(msgspec.Struct):
    resourceType: Any = None  # noqa: N815


_KIND = msgspec.json.Decoder(_Kind, float_hook=float)


def _kind_of(data: bytes | msgspec.Raw) -> Any:
    try:
        return _KIND.decode(data).resourceType
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None


class Unreadable(Exception):
    """A resource whose elements that a rule reads are not of their FHIR type."""


def element(value: Any, kind: Any) -> Any:
    """An element decoded loosely (Any) typed where it is read; Unreadable if it is not of that type."""
    if value is None:
        return None
    try:
        return msgspec.convert(value, kind)
    except msgspec.ValidationError as exc:
        raise Unreadable(str(exc)) from None


T = TypeVar("T")


def elements(value: Any, kind: type[T]) -> list[T]:
    """A repeating element decoded loosely, typed where it is read: each item of `kind` (none when it is absent);
    Unreadable if it is no list or an item is not of that type. (Item by item: msgspec converts to a Struct with
    the converter the Struct keeps, while a list type's converter is built anew on every call.)"""
    if value is None:
        return []
    if not isinstance(value, list):
        raise Unreadable(f"Expected `array`, got `{type(value).__name__}`")
    try:
        return [msgspec.convert(item, kind) for item in value]
    except msgspec.ValidationError as exc:
        raise Unreadable(str(exc)) from None


# FHIR R4 dateTime/instant: a time of a day (with its zone), or a year, a month or a day; nothing else (ASCII
# digits, as FHIR's own pattern: without re.ASCII, \d would take any script's digits).
_FHIR_TIME = re.compile(r"\d\d\d\d-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:\d\d)?"
                        r"|\d\d\d\d(?:-\d\d(?:-\d\d)?)?", re.ASCII)
_DAY = len("2026-11-25")


def instant(value: str | None, zone: tzinfo = UTC) -> datetime | None:
    """A FHIR date, dateTime or instant as an aware time in UTC -- a date counts from midnight in `zone` (the site's
    time zone), as does a time sent with no offset; a year or a month alone is too imprecise to date a result (R1:
    never current) and gives None; Unreadable if it is no FHIR time."""
    if value is None:
        return None
    if _FHIR_TIME.fullmatch(value) is None:
        raise Unreadable(f"not a FHIR date-time: {value[:40]!r}")
    if len(value) < _DAY:
        return None
    try:
        moment = datetime.fromisoformat(value)  # (Python 3.11 reads a date, a time with Z or an offset)
    except ValueError:
        raise Unreadable(f"not a FHIR date-time: {value[:40]!r}") from None
    if moment.tzinfo is None:  # a date, or a time sent with no offset: the site's
        moment = moment.replace(tzinfo=zone)
    if moment.tzinfo is UTC:
        return moment
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:00:00-02:00 is past the last representable instant: undated
        return None
