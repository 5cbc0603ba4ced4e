"""FHIR JSON as received, decoded to the elements some rule reads and no further.

A record may carry narrative, notes, categories, performers and interpretations on every result; none of it changes
an answer here. Decoding it anyway costs time and memory in proportion to the whole record (and more per result
the larger the record, as the objects outgrow the CPU caches). So the hook request, its prefetch and the FHIR
fallback's answers are decoded with msgspec into plain dicts that keep, for every resource, only the elements in
ELEMENTS_READ (each nested value whole), in a single pass. Validation (fhir/records.py) then sees the same slim
resource on every path. A body of any other shape is decoded whole with orjson, so its errors read as ever.
"""

from __future__ import annotations

from typing import Any, TypedDict

import msgspec
import orjson

from cds_service.errors import BadRequest

# Every element a rule or a FHIR validation here reads, of any resource type (R1-R10): what fhir/records.py maps,
# the elements FHIR R4 requires of the types it validates (so validation sees a whole resource of what is read),
# and what Bundles, paging and the prefetch states need.
ELEMENTS_READ = (
    # every resource
    "resourceType", "id", "meta", "contained",
    # Bundle (prefetch and FHIR search answers)
    "type", "total", "link", "entry",
    # Observation (R1-R4, R7, R8) and DiagnosticReport (R1)
    "status", "code", "subject", "effectiveDateTime", "effectivePeriod", "effectiveInstant", "issued",
    "dataAbsentReason", "specimen", "referenceRange", "component", "result",
    "valueQuantity", "valueCodeableConcept", "valueString", "valueBoolean", "valueInteger", "valueRange",
    "valueRatio", "valueSampledData", "valueTime", "valueDateTime", "valuePeriod",
    # Patient (R5)
    "birthDate",
    # MedicationRequest / -Administration / -Statement and Medication (R8, R9)
    "intent", "medicationCodeableConcept", "medicationReference", "dosageInstruction", "authoredOn",
    # Procedure and Condition (R8)
    "performedDateTime", "performedPeriod", "clinicalStatus", "verificationStatus",
)


class _Entry(TypedDict, total=False):
    resource: _Resource


_FIELDS: dict[str, Any] = {**{name: Any for name in ELEMENTS_READ}, "entry": list[_Entry]}
_Resource = TypedDict("_Resource", _FIELDS, total=False)  # type: ignore[misc]  # its keys are the list above


class _Body(TypedDict, total=False):
    """A CDS Hooks request: its own members, and each prefetch value (a resource, a Bundle, or null)."""

    hook: Any
    hookInstance: Any
    fhirServer: Any
    fhirAuthorization: Any
    context: Any
    prefetch: dict[str, _Resource | None]


_BODY = msgspec.json.Decoder(_Body)
_RESOURCE = msgspec.json.Decoder(_Resource)


def _whole(data: bytes) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"the request body is not valid JSON: {exc}") from None


def decode_hook_body(data: bytes) -> Any:
    """The request body, its resources slimmed to ELEMENTS_READ; BadRequest when it is not JSON."""
    try:
        return _BODY.decode(data)
    except (msgspec.DecodeError, ValueError, RecursionError):  # ValueError: invalid UTF-8
        return _whole(data)  # not the usual shape: decoded whole, and checked as ever by parse_hook_request


def decode_resource(data: bytes) -> Any:
    """A FHIR answer (a Bundle or a resource), slimmed like the prefetch; orjson.JSONDecodeError if not JSON."""
    try:
        return _RESOURCE.decode(data)
    except (msgspec.DecodeError, ValueError, RecursionError):
        return orjson.loads(data)
