"""context.draftOrders (and selections) of order-select / order-sign, checked and turned into DraftOrders (R9)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fhir.resources.R4B.medicationrequest import MedicationRequest
from fhir.resources.R4B.servicerequest import ServiceRequest
from pydantic import ValidationError

from cds_service.clinical.model import Coding, DraftOrder
from cds_service.errors import BadRequest
from cds_service.fhir.records import codings_of, medication_codings, raw_codings

_CHECKED: dict[str, Any] = {"MedicationRequest": MedicationRequest, "ServiceRequest": ServiceRequest}


def _bundle_resources(draft: Any) -> list[dict[str, Any]]:
    if not isinstance(draft, dict) or draft.get("resourceType") != "Bundle":
        raise BadRequest("context.draftOrders must be a FHIR Bundle of the draft orders")
    entries = draft.get("entry", [])
    if not isinstance(entries, list):
        raise BadRequest("context.draftOrders.entry must be a list")
    resources = []
    for position, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            raise BadRequest(f"context.draftOrders.entry[{position}] has no FHIR resource")
        if not isinstance(resource.get("id"), str) or not resource["id"]:
            raise BadRequest(f"context.draftOrders.entry[{position}] ({resource['resourceType']}) has no id")
        resources.append(resource)
    return resources


def _name(resource: dict[str, Any], concept: Any, codings: list[Coding]) -> str:
    if isinstance(concept, dict):
        if isinstance(concept.get("text"), str) and concept["text"].strip():
            return str(concept["text"])
        for coding in concept.get("coding") or []:
            if isinstance(coding, dict) and isinstance(coding.get("display"), str):
                return str(coding["display"])
    return f"{resource['resourceType']}/{resource['id']}" if not codings else f"code {codings[0].code}"


def _draft_order(resource: dict[str, Any], medications: dict[str, dict[str, Any]]) -> DraftOrder:
    kind = resource["resourceType"]
    try:
        model = _CHECKED[kind].model_validate(resource)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise BadRequest(
            f"draft order {kind}/{resource['id']} is not valid FHIR R4 ({where}: {first['msg']})") from None
    if kind == "MedicationRequest":
        codings = medication_codings(resource, medications)
        concept = resource.get("medicationCodeableConcept")
        routes = tuple(c for d in model.dosageInstruction or [] for c in codings_of(d.route))
    else:
        codings = raw_codings(resource.get("code"))
        concept = resource.get("code")
        routes = ()
    return DraftOrder(f"{kind}/{resource['id']}", _name(resource, concept, codings), tuple(codings), routes)


def read_draft_orders(context: Mapping[str, Any], selected_only: bool) -> list[DraftOrder]:
    """The draft orders to check: the selected ones (order-select) or all (order-sign). BadRequest if malformed."""
    resources = _bundle_resources(context.get("draftOrders"))
    medications = {r["id"]: r for r in resources if r["resourceType"] == "Medication"}
    orders = {f"{r['resourceType']}/{r['id']}": r for r in resources if r["resourceType"] in _CHECKED}
    if selected_only:
        selections = context.get("selections")
        if not isinstance(selections, list) or not selections or not all(isinstance(s, str) for s in selections):
            raise BadRequest("context.selections must be a non-empty list of references such as MedicationRequest/1")
        every = {f"{r['resourceType']}/{r['id']}" for r in resources}
        for selection in selections:
            if selection not in every:
                raise BadRequest(f"context.selections names '{selection}', which is not in context.draftOrders")
        chosen = [orders[s] for s in dict.fromkeys(selections) if s in orders]
    else:
        chosen = list(orders.values())
    return [_draft_order(resource, medications) for resource in chosen]
