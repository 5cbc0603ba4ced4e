"""FHIR JSON as received, decoded to the elements some rule reads and no further.

A record may carry narrative, notes, categories, performers and interpretations on every result; none of it changes
an answer here. Decoding it anyway costs time and memory in proportion to the whole record. So the hook request,
its prefetch and the FHIR fallback's answers are decoded with msgspec into plain dicts that keep, for every
resource, only the elements in ELEMENTS_READ (each nested value whole). A body of any other shape is decoded whole
with orjson, so its errors read as ever.

A prefetch Bundle's resources are not decoded with the request: they are kept as the bytes received
(BundleResources), and fhir/records.py decodes each once, straight into its typed structure (fhir/resources.py), so
a record of thousands of results never sits decoded as dicts in memory.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any, TypedDict, overload

import msgspec
import orjson

from cds_service.errors import BadRequest
from cds_service.fhir.bundle import says_failed_in_part

# Every element a rule or a FHIR validation here reads, of any resource type (R1-R10): what fhir/records.py maps,
# the elements FHIR R4 requires of the types it validates (so validation sees a whole resource of what is read),
# and what Bundles, paging and the prefetch states need.
ELEMENTS_READ = (
    # every resource
    "resourceType", "id", "meta", "contained",
    # Bundle (prefetch and FHIR search answers); an OperationOutcome entry's issues (how the search went)
    "type", "total", "link", "entry", "issue",
    # Observation (R1-R4, R7, R8) and DiagnosticReport (R1)
    "status", "code", "subject", "effectiveDateTime", "effectivePeriod", "effectiveInstant", "issued",
    "dataAbsentReason", "specimen", "referenceRange", "component", "result", "hasMember",
    "valueQuantity", "valueCodeableConcept", "valueString", "valueBoolean", "valueInteger", "valueRange",
    "valueRatio", "valueSampledData", "valueTime", "valueDateTime", "valuePeriod",
    # Patient (R5)
    "birthDate", "_birthDate",
    # MedicationRequest / -Administration / -Statement and Medication (R8, R9)
    "intent", "medicationCodeableConcept", "medicationReference", "dosageInstruction", "dosage", "authoredOn",
    "ingredient", "doNotPerform", "dateAsserted",
    # Procedure and Condition (R8)
    "performedDateTime", "performedPeriod", "clinicalStatus", "verificationStatus",
)


class _Entry(TypedDict, total=False):
    resource: _Resource


class _RawEntry(TypedDict, total=False):
    resource: msgspec.Raw


_ELEMENTS: dict[str, Any] = {name: Any for name in ELEMENTS_READ}
_Resource = TypedDict("_Resource", {**_ELEMENTS, "entry": list[_Entry]}, total=False)  # type: ignore[misc]
_Shell = TypedDict("_Shell", {**_ELEMENTS, "entry": list[_RawEntry]}, total=False)  # type: ignore[misc]  # raw entries


class _Members(TypedDict, total=False):
    """A CDS Hooks request's own members."""

    hook: Any
    hookInstance: Any
    fhirServer: Any
    fhirAuthorization: Any
    context: Any


class _Body(_Members, total=False):
    """A request: each prefetch Bundle's resources kept as received, to be read one by one (fhir/records.py)."""

    prefetch: dict[str, _Shell | None]


# Elements are decoded loosely (Any): a number past a double's range, which JSON allows, is read as infinite, so that
# it makes unreadable only the resource whose rule reads it (R10) -- never a whole page, nor a whole hook call for a
# number in an element no rule reads (a draft order's dose, an extra context field).
_BODY = msgspec.json.Decoder(_Body, float_hook=float)
_RESOURCE = msgspec.json.Decoder(_Resource, float_hook=float)
_RESOURCES = msgspec.json.Decoder(list[_Resource], float_hook=float)
BATCH = 256  # resources decoded together when a Bundle is iterated: few calls, and a batch stays in the CPU caches


class BundleResources(Sequence[dict[str, Any]]):
    """The resources of a prefetch Bundle, kept as the bytes received (`raws`). Iterated, they are decoded (to
    ELEMENTS_READ) a batch at a time, so that thousands of results never sit decoded all at once: each is looked at
    and let go unless a rule needs it. Iterating again decodes again; indexing decodes them all once. OperationOutcome
    entries and entries that are no JSON object are not resources of the Bundle."""

    def __init__(self, raws: list[msgspec.Raw], failed_in_part: bool = False) -> None:
        self.raws = raws
        self.failed_in_part = failed_in_part  # an OperationOutcome among them says the search failed in part
        self._all: list[dict[str, Any]] | None = None

    def __iter__(self) -> Iterator[dict[str, Any]]:
        if self._all is not None:
            yield from self._all
            return
        for start in range(0, len(self.raws), BATCH):
            yield from _decoded_batch(self.raws[start:start + BATCH])

    def __len__(self) -> int:
        return len(self._decoded())

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[dict[str, Any]]: ...

    def __getitem__(self, index: int | slice) -> dict[str, Any] | Sequence[dict[str, Any]]:
        return self._decoded()[index]

    def _decoded(self) -> list[dict[str, Any]]:
        if self._all is None:
            self._all = list(iter(self))
        return self._all


def as_received(resources: Sequence[dict[str, Any]]) -> Sequence[dict[str, Any] | msgspec.Raw]:
    """A prefetch value's resources as fhir/records.py reads them: a Bundle's as the bytes received, others as
    decoded (a resource sent on its own, the FHIR fallback's answers)."""
    return resources.raws if type(resources) is BundleResources else resources


def _decoded_batch(raws: list[msgspec.Raw]) -> Iterator[dict[str, Any]]:
    try:
        resources = _RESOURCES.decode(b"[" + b",".join(raws) + b"]")
    except (msgspec.DecodeError, ValueError, RecursionError):
        resources = [decode_entry(bytes(raw)) for raw in raws]  # one of them is odd: each on its own, as ever
    for resource in resources:
        if isinstance(resource, dict) and resource.get("resourceType") != "OperationOutcome":
            yield resource


def decode_entry(data: bytes) -> Any:
    """One resource of a prefetch Bundle, slimmed to ELEMENTS_READ (anything else as JSON decodes it: the caller
    skips what is no object); BadRequest when it is not JSON."""
    try:
        return decode_resource(data)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"the request body is not valid JSON: {exc}") from None


# A \uXXXX escape of half a surrogate pair with no other half: JSON's grammar allows it, and a string cut in the
# middle of an emoji by a JavaScript client carries one. Read as U+FFFD (the other escapes are matched only so that
# an escaped backslash before a "u" is never taken for one).
_ESCAPES = re.compile(rb"\\(?:\\"  # an escaped backslash
                      rb"|u[dD][89abAB][0-9a-fA-F]{2}(?:\\u[dD][c-fC-F][0-9a-fA-F]{2})?"  # a high half (and its low)
                      rb"|u[dD][c-fC-F][0-9a-fA-F]{2})")  # a low half alone


def _repair(escape: re.Match[bytes]) -> bytes:
    found = escape[0]
    return found if found == b"\\\\" or len(found) == 12 else b"\\ufffd"


def loads(data: bytes) -> Any:
    """JSON as orjson decodes it -- a lone surrogate escape read as U+FFFD -- or orjson.JSONDecodeError."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        repaired = _ESCAPES.sub(_repair, data) if b"\\u" in data else data
        if repaired == data:
            raise
        return orjson.loads(repaired)


def _whole(data: bytes) -> Any:
    try:
        return loads(data)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"the request body is not valid JSON: {exc}") from None


def decode_hook_body(data: bytes) -> Any:
    """The request body, its resources slimmed to ELEMENTS_READ, each prefetch Bundle's `entry` replaced by its
    resources as BundleResources. BadRequest when it is not JSON."""
    try:
        decoded: dict[str, Any] = _BODY.decode(data)  # type: ignore[assignment]
    except (msgspec.DecodeError, ValueError, RecursionError):  # ValueError: invalid UTF-8
        return _whole(data)  # not the usual shape: decoded whole, and checked as ever by parse_hook_request
    outcomes = b"OperationOutcome" in data  # (rare: only then is any entry looked at before it is read)
    for value in (decoded.get("prefetch") or {}).values():
        entries = value.get("entry") if value is not None else None
        if entries is not None:  # (an empty Bundle, common in a prefetch, without running a comprehension)
            raws = [e["resource"] for e in entries if "resource" in e] if entries else []
            value["entry"] = BundleResources(raws, outcomes and any(says_failed_in_part(_outcome(r)) for r in raws))
    return decoded


def _outcome(raw: msgspec.Raw) -> Any:
    """An entry decoded when it may be an OperationOutcome (None otherwise, or when it is no JSON)."""
    data = bytes(raw)
    try:
        return loads(data) if b"OperationOutcome" in data else None
    except orjson.JSONDecodeError:
        return None


BYTE_ORDER_MARK = b"\xef\xbb\xbf"


def unmarked(data: bytes) -> bytes:
    """JSON bytes less a UTF-8 byte order mark (RFC 8259: a parser may ignore one; some clients and servers write
    one)."""
    return data[len(BYTE_ORDER_MARK):] if data.startswith(BYTE_ORDER_MARK) else data


def decode_resource(data: bytes) -> Any:
    """A FHIR answer (a Bundle or a resource), slimmed like the prefetch; orjson.JSONDecodeError if not JSON."""
    data = unmarked(data)
    try:
        return _RESOURCE.decode(data)
    except (msgspec.DecodeError, ValueError, RecursionError):
        return loads(data)
