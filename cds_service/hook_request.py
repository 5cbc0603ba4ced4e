"""Parse and validate a CDS Hooks 2.0 request body (spec: 'HTTP Request') before anything reads it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import msgspec

from cds_service.errors import BadRequest

FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")


class HookRequest(msgspec.Struct, frozen=True):
    """The parts of a hook call the service uses."""

    hook: str
    hook_instance: str
    context: Mapping[str, Any]
    fhir_server: str | None
    fhir_authorization: Mapping[str, Any] | None
    prefetch: Mapping[str, Any]

    @property
    def patient_id(self) -> str:
        return str(self.context["patientId"])


def _string(container: Mapping[str, Any], key: str, where: str, required: bool = True) -> str | None:
    value = container.get(key)
    if value is None:
        if required:
            raise BadRequest(f"{where}{key} is required")
        return None
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(f"{where}{key} must be a non-empty string")
    return value


def parse_hook_request(body: Any, hook: str, required_context: tuple[str, ...]) -> HookRequest:
    """A HookRequest, or BadRequest naming the first thing wrong with the body."""
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object (a CDS Hooks request)")
    sent_hook = _string(body, "hook", "")
    if sent_hook != hook:
        raise BadRequest(f"this service answers the '{hook}' hook, not '{sent_hook}'")
    hook_instance = _string(body, "hookInstance", "")
    context = body.get("context")
    if not isinstance(context, dict):
        raise BadRequest("context is required and must be a JSON object")
    for key in required_context:
        _string(context, key, "context.")
    patient_id = context.get("patientId")
    if patient_id is not None and not FHIR_ID.fullmatch(str(patient_id)):
        # it is put into FHIR queries: an id is [A-Za-z0-9-.]{1,64} and nothing else (FHIR R4 'id')
        raise BadRequest("context.patientId must be a FHIR id: letters, digits, '-' and '.', at most 64")
    fhir_server = _string(body, "fhirServer", "", required=False)
    if fhir_server is not None and not fhir_server.lower().startswith(("http://", "https://")):
        raise BadRequest("fhirServer must be an http or https URL")
    authorization = body.get("fhirAuthorization")
    if authorization is not None:
        if not isinstance(authorization, dict):
            raise BadRequest("fhirAuthorization must be a JSON object")
        if fhir_server is None:
            raise BadRequest("fhirAuthorization was sent without a fhirServer")
        _string(authorization, "access_token", "fhirAuthorization.")
        token_type = _string(authorization, "token_type", "fhirAuthorization.")
        if token_type != "Bearer":
            raise BadRequest("fhirAuthorization.token_type must be 'Bearer'")
    prefetch = body.get("prefetch")
    if prefetch is not None and not isinstance(prefetch, dict):
        raise BadRequest("prefetch must be a JSON object keyed by the service's prefetch keys")
    return HookRequest(
        hook=hook,
        hook_instance=str(hook_instance),
        context=context,
        fhir_server=fhir_server,
        fhir_authorization=authorization,
        prefetch=prefetch or {},
    )
