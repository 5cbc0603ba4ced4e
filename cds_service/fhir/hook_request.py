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
    prefetch: Any  # as sent: fhir/prefetch.py reads each key (a value it cannot read is fetched instead)
    draft_orders: tuple[DraftOrder, ...] = ()  # order-select: the selected drafts; order-sign: all (R9)
    drafted: tuple[DraftOrder, ...] = ()  # every draft order, selected or not
    fhir_problem: str | None = None  # why a fhirServer sent cannot be fetched from (then fhir_server is None)

    @property
    def patient_id(self) -> str:
        return str(self.context["patientId"])


def _string(container: Mapping[str, Any], key: str, where: str) -> str:
    value = container.get(key)
    if value is None:
        raise BadRequest(f"{where}{key} is required")
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
    prefetch = body.get("prefetch")
    fhir_server, authorization, fhir_problem = _fhir_access(body)
    checked, drafted = read_draft_orders(context, drafts == "selected") if drafts else ([], [])
    return HookRequest(
        hook=hook,
        hook_instance=hook_instance,
        context=context,
        fhir_server=fhir_server,
        fhir_authorization=authorization,
        prefetch={} if prefetch is None else prefetch,
        draft_orders=tuple(checked),
        drafted=tuple(drafted),
        fhir_problem=fhir_problem,
    )


def _fhir_access(body: Mapping[str, Any]) -> tuple[Url | None, Mapping[str, Any] | None, str | None]:
    """fhirServer and fhirAuthorization, for the FHIR fallback: (server, authorization, None), or (None, None, why
    they cannot be used). They are read only when a prefetch key must be fetched, so a call is never refused for
    them: a key that must be fetched is then not obtainable (412 if required). OAuth's token_type is case-insensitive
    (RFC 6749, 5.1)."""
    sent_server = body.get("fhirServer")
    authorization = body.get("fhirAuthorization")
    if sent_server is None:
        return None, None, None  # nothing to fetch from (and a token sent alone is never sent anywhere)
    try:
        if not isinstance(sent_server, str):
            raise BadUrl("not a string")
        fhir_server = parse_url(sent_server)
    except BadUrl as exc:
        return None, None, f"fhirServer must be an http or https URL: {exc}"
    if authorization is None:
        return fhir_server, None, None
    if not isinstance(authorization, dict):
        return None, None, "fhirAuthorization must be a JSON object"
    token, token_type = authorization.get("access_token"), authorization.get("token_type")
    if not isinstance(token, str) or not token.strip():
        return None, None, "fhirAuthorization.access_token must be a non-empty string"
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        return None, None, "fhirAuthorization.token_type must be 'Bearer'"
    return fhir_server, authorization, None
