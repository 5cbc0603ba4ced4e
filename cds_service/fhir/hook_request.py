"""Parse and validate a CDS Hooks 2.0 request body (spec: 'HTTP Request') before anything reads it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from cds_service.clinical.model import DraftOrder
from cds_service.errors import BadRequest
from cds_service.fhir.orders import read_draft_orders
from cds_service.urls import BadUrl, Url, fhir_id, parse_url


class HookRequest(msgspec.Struct, frozen=True):
    """The parts of a hook call the service uses."""

    hook: str
    hook_instance: str
    context: Mapping[str, Any]
    fhir_server: Url | None  # parsed once: what was checked is what is fetched
    fhir_authorization: Mapping[str, Any] | None
    prefetch: Mapping[str, Any]
    draft_orders: tuple[DraftOrder, ...] = ()  # order-select: the selected drafts; order-sign: all (R9)

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


def parse_hook_request(body: Any, hook: str, required_context: tuple[str, ...],
                       drafts: str | None = None) -> HookRequest:
    """A HookRequest, or BadRequest naming the first thing wrong with the body. `drafts`: which of
    context.draftOrders the service checks, "selected" (order-select) or "all" (order-sign); None reads none."""
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object (a CDS Hooks request)")
    sent_hook = _string(body, "hook", "")
    if sent_hook != hook:
        raise BadRequest(f"this service answers the '{hook}' hook, not '{sent_hook}'")
    # the call's id, for the feedback store and the logs: no rule reads it, so it is never a reason to refuse a call
    hook_instance = body.get("hookInstance")
    hook_instance = hook_instance if isinstance(hook_instance, str) else ""
    context = body.get("context")
    if not isinstance(context, dict):
        raise BadRequest("context is required and must be a JSON object")
    for key in required_context:
        _string(context, key, "context.")
    patient_id = context.get("patientId")
    try:
        if patient_id is not None:
            fhir_id(str(patient_id))  # it goes into FHIR queries: the FHIR R4 id grammar, never only dots
    except BadUrl:
        raise BadRequest("context.patientId must be a FHIR id: letters, digits, '-' and '.', at most 64, "
                         "not only dots") from None
    sent_server = _string(body, "fhirServer", "", required=False)
    try:
        fhir_server = parse_url(sent_server) if sent_server is not None else None
    except BadUrl as exc:
        raise BadRequest(f"fhirServer must be an http or https URL: {exc}") from None
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
        hook_instance=hook_instance,
        context=context,
        fhir_server=fhir_server,
        fhir_authorization=authorization,
        prefetch=prefetch or {},
        draft_orders=tuple(read_draft_orders(context, drafts == "selected")) if drafts else (),
    )
