"""Prefetch templates (CDS Hooks 2.0 'Prefetch Template') and what the client sent for each key."""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from itertools import chain
from typing import Any
from urllib.parse import quote

import msgspec

from cds_service.clinical.model import DataKind
from cds_service.errors import DataUnavailable
from cds_service.fhir.bundle import next_link, search_results, withheld
from cds_service.fhir.client import FhirClient
from cds_service.fhir.hook_request import HookRequest
from cds_service.fhir.resources import Received
from cds_service.fhir.wire import BundleResources, as_received
from cds_service.metrics import FHIR_SEARCHES, FHIR_SECONDS
from cds_service.urls import fhir_id

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PrefetchTemplate:
    """One prefetch key of a service: the FHIR query, and whether the service cannot answer without it."""

    key: str
    query: str
    required: bool
    describes: DataKind | None = None  # what the service misses without it
    dated: bool = False  # the FHIR fallback bounds it to the look-back (search parameter `date`)


class PrefetchState(enum.StrEnum):
    """CDS Hooks 2.0: a key may be present, null (no data), an OperationOutcome (the client failed), or absent."""

    PRESENT = "present"
    NULL = "null"
    FAILED = "failed"
    ABSENT = "absent"


class PrefetchValue(msgspec.Struct, frozen=True):
    state: PrefetchState
    resources: Sequence[dict[str, Any]] = ()
    describes: DataKind | None = None
    partial: bool = False
    problem: str | None = None  # why a value sent could not be read (it counts as failed: fetched instead)
    next_page: str | None = None  # a search sent paged: where the rest of its results are (Bundle.link next)


_OBTAINED = frozenset({PrefetchState.PRESENT, PrefetchState.NULL})  # the data is known: sent, or null (no data)


def _resources(value: dict[str, Any]) -> tuple[Sequence[dict[str, Any]] | None, bool]:
    """The resources of a prefetch value: itself, or a Bundle's (None for a Bundle whose entry is no list); and
    whether an OperationOutcome among a Bundle's entries says the search failed in part."""
    if value.get("resourceType") != "Bundle":
        return (value,), False
    entries = value.get("entry", [])
    if type(entries) is BundleResources:
        return entries, entries.failed_in_part  # as received: decoded while read (fhir/wire.py)
    if not isinstance(entries, list):
        return None, False
    found, failed_in_part = search_results(entries)
    return tuple(found), failed_in_part


def _unreadable(templates: Sequence[PrefetchTemplate], problem: str) -> dict[str, PrefetchValue]:
    """Values sent that no rule can read: never a reason to refuse the call, they are fetched as though the client
    had failed to (CDS Hooks 2.0: then the service queries fhirServer itself)."""
    log.warning("%s: fetched instead, when it can be", problem)
    return {t.key: PrefetchValue(PrefetchState.FAILED, describes=t.describes, problem=problem) for t in templates}


def read_prefetch(sent: Any, templates: tuple[PrefetchTemplate, ...]) -> dict[str, PrefetchValue]:
    """The state and resources of every declared key as sent. A value that is no FHIR resource, Bundle or null --
    or a prefetch that is no JSON object -- counts as failed, with the problem said."""
    values: dict[str, PrefetchValue] = {}
    present, null, failed = PrefetchState.PRESENT, PrefetchState.NULL, PrefetchState.FAILED  # once, not per key
    absent = PrefetchState.ABSENT
    if not isinstance(sent, dict):
        return _unreadable(templates, "prefetch is not a JSON object")
    for template in templates:
        if template.key not in sent:
            values[template.key] = PrefetchValue(absent, describes=template.describes)
            continue
        value = sent[template.key]
        if value is None:
            values[template.key] = PrefetchValue(null, describes=template.describes)
        elif not isinstance(value, dict) or not isinstance(value.get("resourceType"), str):
            values |= _unreadable((template,), f"prefetch '{template.key}' is not a FHIR resource, a Bundle or null")
        elif value["resourceType"] == "OperationOutcome":
            values[template.key] = PrefetchValue(failed, describes=template.describes)
        else:
            resources, failed_in_part = _resources(value)
            if resources is not None:
                partial = failed_in_part or withheld(value, len(as_received(resources)))
                values[template.key] = PrefetchValue(present, resources, template.describes, partial=partial,
                                                     next_page=next_link(value))
            else:
                values |= _unreadable((template,), f"prefetch '{template.key}' is a Bundle whose entry is not a list")
    return values


def data_gaps(values: Mapping[str, PrefetchValue]) -> tuple[tuple[DataKind, ...], tuple[DataKind, ...]]:
    """The kinds of data the service does without (never obtained), and those it has only in part."""
    unavailable, partial = [], []
    for value in values.values():
        if value.describes is not None:
            if value.state not in _OBTAINED:
                unavailable.append(value.describes)
            if value.partial:
                partial.append(value.describes)
    return tuple(unavailable), tuple(partial)


PATIENT_KEY = "patient"  # the prefetch key of the Patient resource; every other key brings the patient's record


class PatientData(msgspec.Struct, frozen=True):
    """One patient's data for one call, resolved before the handler runs: the Patient resource, the record's
    resources (each key's as received, in the order the service declares its keys), and the kinds of data the
    service does without (never obtained) or has only in part."""

    patient: Received | None
    by_key: tuple[Sequence[Received], ...]
    unavailable: tuple[DataKind, ...] = ()
    partial: tuple[DataKind, ...] = ()

    @property
    def resources(self) -> Iterator[Received]:
        return chain.from_iterable(self.by_key)


def as_patient_data(values: Mapping[str, PrefetchValue]) -> PatientData:
    """The resolved prefetch values as one PatientData."""
    patient = values.get(PATIENT_KEY)
    unavailable, partial = data_gaps(values)
    return PatientData(
        patient=patient.resources[0] if patient is not None and patient.resources else None,
        by_key=tuple(as_received(value.resources) for key, value in values.items() if key != PATIENT_KEY),
        unavailable=unavailable,
        partial=partial,
    )


def resolve(request: HookRequest, templates: tuple[PrefetchTemplate, ...], client: FhirClient | None,
            since: date) -> PatientData:
    """CDS Hooks 2.0 prefetch: each key as sent, else fetched from fhirServer (results since `since`); 412 if a
    required key stays missing."""
    return as_patient_data(complete_prefetch(read_prefetch(request.prefetch, templates), templates, request, client,
                                          since))


def render_query(template: PrefetchTemplate, context: Mapping[str, Any], since: date) -> str:
    """The template with its {{context.x}} tokens filled, each percent-encoded (the patient id checked by the FHIR
    id grammar first), plus the look-back. Built, never joined from user input."""
    query = template.query
    for name, value in context.items():
        token = "{{context." + name + "}}"
        if isinstance(value, str) and token in query:
            query = query.replace(token, fhir_id(value) if name == "patientId" else quote(value, safe=""))
    if template.dated:
        query += f"&date=ge{since.isoformat()}"
    return query


def complete_prefetch(
    values: dict[str, PrefetchValue],
    templates: tuple[PrefetchTemplate, ...],
    request: HookRequest,
    client: FhirClient | None,
    since: date,
) -> dict[str, PrefetchValue]:
    """CDS Hooks 2.0: fetch every absent or failed key from fhirServer, and the rest of every search sent paged (it
    is "the CDS Service's responsibility ... to programmatically retrieve any additional necessary data"); 412 if a
    required key stays missing. A paged search whose rest cannot be read is partial."""
    missing = [t for t in templates if values[t.key].state not in _OBTAINED]
    paged = {t.key: page for t in templates if (page := values[t.key].next_page) is not None}
    reason = request.fhir_problem or "no fhirServer was sent"
    if (missing or paged) and request.fhir_server and client is not None:
        token = request.fhir_authorization.get("access_token") if request.fhir_authorization else None
        queries = {t.key: render_query(t, request.context, since) for t in missing}
        started = time.monotonic()
        fetched = client.fetch(request.fhir_server, token, queries, paged)
        FHIR_SECONDS.observe(time.monotonic() - started)
        for result in fetched.values():
            FHIR_SEARCHES.labels("error" if result.error else "partial" if result.partial else "ok").inc()
        for key in paged:  # the pages sent, then the rest
            sent, rest = values[key], fetched[key]
            values[key] = msgspec.structs.replace(
                sent, resources=[*as_received(sent.resources), *rest.resources], next_page=None,
                partial=sent.partial or rest.partial or rest.error is not None)
        for template in missing:
            result = fetched[template.key]
            if result.error is None or result.resources:
                values[template.key] = PrefetchValue(PrefetchState.PRESENT, result.resources, template.describes,
                                                     partial=result.partial or result.error is not None)
            else:
                reason = f"fetching from fhirServer failed: {result.error}"
    elif missing and request.fhir_server:
        reason = "this service does not fetch from fhirServer"
    elif missing and request.fhir_problem:
        log.warning("data not in prefetch was not fetched: %s", request.fhir_problem)
    for key in paged:
        if values[key].next_page is not None:  # (not read: no fhirServer to read it from)
            log.warning("prefetch '%s' was sent paged; the rest of it was not read", key)
            values[key] = msgspec.structs.replace(values[key], next_page=None, partial=True)
    still_missing = [t.key for t in templates if t.required and values[t.key].state not in _OBTAINED]
    if still_missing:
        problems = dict.fromkeys(p for p in (values[key].problem for key in still_missing) if p)  # each once
        raise DataUnavailable(f"required data not in prefetch and not obtainable: {', '.join(still_missing)} "
                              f"({'; '.join([*problems, reason])})")
    return values
