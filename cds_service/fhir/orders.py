"""context.draftOrders (and selections) of order-select / order-sign, read liberally into DraftOrders (R9).

A draft is a draft: only what a rule needs is read (resourceType, id, status, doNotPerform, medication[x] and the
Medication it names, the dosage route; a ServiceRequest's code); nothing else is checked, so a draft without
`intent`, with `category` as an object, or with a dosage the R4 model would refuse, is still checked (the CDS Hooks
Sandbox sends all three). What was off is logged, without PHI, and counted."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from cds_service.clinical.model import DraftOrder, MedicationConcept
from cds_service.errors import BadRequest
from cds_service.fhir.bundle import bundle_entries
from cds_service.fhir.records import concept_names, medication_concept, raw_codings
from cds_service.knowledge.vocabulary import status_code
from cds_service.observability import noticed

log = logging.getLogger(__name__)

ORDER_KINDS = ("MedicationRequest", "ServiceRequest")
# R4 elements a client commonly gets wrong in drafts; never a reason to refuse, only to note (no value logged)
_R4_CARDINALITY = {"category": list, "dosageInstruction": list, "reasonCode": list, "note": list}



def _note(kind: str, what: str) -> None:
    noticed(log, f"draft {kind} read despite: {what}")


def _irregularities(resource: dict[str, Any]) -> None:
    kind = resource["resourceType"]
    if kind == "MedicationRequest" and "intent" not in resource:
        _note(kind, "no intent")
    for element, shape in _R4_CARDINALITY.items():
        if element in resource and not isinstance(resource[element], shape):
            _note(kind, f"{element} is not a list")


def _bundle_resources(draft: Any) -> list[tuple[str | None, dict[str, Any]]]:
    """The resources of context.draftOrders, each with its entry's fullUrl: none when it is absent; a 400 only when
    it is no object at all."""
    if draft is None:
        return []
    if not isinstance(draft, dict):
        raise BadRequest("context.draftOrders must be a FHIR Bundle of the draft orders")
    resources = []
    for entry in bundle_entries(draft):  # (a Bundle with no entries: nothing to check)
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict) and isinstance(resource.get("resourceType"), str):
            full_url = entry.get("fullUrl")
            resources.append((full_url if isinstance(full_url, str) and full_url else None, resource))
        else:
            _note("entry", "an entry without a resource")
    return resources


def _reference(resource: dict[str, Any]) -> str | None:
    resource_id = resource.get("id")
    return f"{resource['resourceType']}/{resource_id}" if isinstance(resource_id, str) and resource_id else None


def _name(reference: str, concept: MedicationConcept) -> str:
    if concept.names:
        return concept.names[0]
    codes = [c.code for c in concept.codings if c.code]
    return f"code {codes[0]}" if codes else reference


def _draft_order(resource: dict[str, Any], reference: str,
                 medications: dict[str, dict[str, Any]]) -> DraftOrder | None:
    """The order as R9 reads it, or None when there is nothing to check: no medication or service yet, or an order
    that it NOT be given (FHIR's modifier doNotPerform: "no MMR vaccine")."""
    _irregularities(resource)
    if resource.get("doNotPerform") is True:
        return None
    if resource["resourceType"] == "MedicationRequest":
        concept = medication_concept(resource, medications)
    else:
        code = resource.get("code")
        concept = MedicationConcept(tuple(raw_codings(code)), (), tuple(concept_names(code)))
    if not (concept.codings or concept.ingredient_codings or concept.names or concept.routes or concept.route_names
            or resource.get("medicationReference") is not None):
        return None  # e.g. the Sandbox's Rx View before a drug is chosen: nothing to check
    # (a drug named only by a Medication not sent is still an order: its route is checked, and it is counted as an
    # unrecognised medication)
    status = resource.get("status")
    return DraftOrder(reference, _name(reference, concept), concept,
                      status_code(status) if isinstance(status, str) else None,
                      service=resource["resourceType"] == "ServiceRequest")


def _selected(selection: str, names: Mapping[str, str]) -> str | None:
    """The draft a selection names (FHIR "Resolving references in Bundles"): by its Type/id or its entry's fullUrl (a
    client's unsaved draft: "urn:uuid:..."); an absolute or versioned URL by the Type/id it ends with, as a result's
    subject is read (R1). None when it names no entry."""
    path = selection.split("/_history/", 1)[0]
    for name in (selection, path, "/".join(path.rsplit("/", 2)[-2:])):
        if name in names:
            return names[name]
    return None


def read_draft_orders(context: Mapping[str, Any], selected_only: bool) -> tuple[list[DraftOrder], list[DraftOrder]]:
    """The draft orders to check -- the selected ones (order-select) or all (order-sign) -- and every draft order (R9:
    one of them may be the CBC a card would suggest). No draftOrders, or an empty Bundle, is nothing to check.
    BadRequest only for what makes the call meaningless: draftOrders that is not an object, or a selection that names
    no draft order."""
    entries = _bundle_resources(context.get("draftOrders"))
    medications: dict[str, dict[str, Any]] = {}  # a draft Medication by its id, and by its entry's fullUrl: an
    for full_url, resource in entries:  # unsaved one may have no id, named by its urn:uuid alone (FHIR R4 Bundle)
        if resource["resourceType"] == "Medication":
            for name in (resource.get("id"), full_url):
                if isinstance(name, str) and name:
                    medications.setdefault(name, resource)
    orders: dict[str, dict[str, Any]] = {}
    names: dict[str, str] = {}  # how a selection may name an entry -> the entry's reference
    for full_url, resource in entries:
        reference = _reference(resource)
        if reference is not None:
            names.setdefault(reference, reference)
        if resource["resourceType"] in ORDER_KINDS:
            if reference is None:
                _note(resource["resourceType"], "no id")
                reference = f"{resource['resourceType']}/#{len(orders) + 1}"  # still checked; no delete suggestion
            orders.setdefault(reference, resource)
        if full_url is not None and reference is not None:
            names.setdefault(full_url, reference)
    if not orders:
        return [], []  # no draftOrders, an empty Bundle, or one with no order in it: nothing to check
    if selected_only:
        selections = context.get("selections")
        if selections is None:
            selections = []
        if not isinstance(selections, list) or not all(isinstance(s, str) for s in selections):
            raise BadRequest("context.selections must be a list of references such as MedicationRequest/1")
        chosen_references = []
        for selection in selections:
            reference = _selected(selection, names)
            if reference is None:
                raise BadRequest(f"context.selections names '{selection}', which is not in context.draftOrders")
            chosen_references.append(reference)
        chosen = [(r, orders[r]) for r in dict.fromkeys(chosen_references) if r in orders]
    else:
        chosen = list(orders.items())
    every = {reference: _draft_order(resource, reference, medications) for reference, resource in orders.items()}
    drafted = [draft for draft in every.values() if draft is not None]
    return [draft for reference, _ in chosen if (draft := every[reference]) is not None], drafted
