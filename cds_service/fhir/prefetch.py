"""Prefetch templates (CDS Hooks 2.0 'Prefetch Template') and what the client sent for each key."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cds_service.clinical.model import DataKind
from cds_service.errors import BadRequest, DataUnavailable


@dataclass(frozen=True)
class PrefetchTemplate:
    """One prefetch key of a service: the FHIR query, and whether the service cannot answer without it."""

    key: str
    query: str
    required: bool
    describes: DataKind | None = None  # what the service misses without it


class PrefetchState(enum.StrEnum):
    """CDS Hooks 2.0: a key may be present, null (no data), an OperationOutcome (the client failed), or absent."""

    PRESENT = "present"
    NULL = "null"
    FAILED = "failed"
    ABSENT = "absent"


@dataclass(frozen=True)
class PrefetchValue:
    state: PrefetchState
    resources: tuple[dict[str, Any], ...] = ()
    describes: DataKind | None = None

    @property
    def obtained(self) -> bool:
        """True when the data is known: sent, or null (CDS Hooks 2.0: no data)."""
        return self.state in (PrefetchState.PRESENT, PrefetchState.NULL)


def _resources(key: str, value: dict[str, Any]) -> tuple[dict[str, Any], ...]:
    if value.get("resourceType") != "Bundle":
        return (value,)
    entries = value.get("entry", [])
    if not isinstance(entries, list):
        raise BadRequest(f"prefetch '{key}' is a Bundle whose entry is not a list")
    found = []
    for entry in entries:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict) and resource.get("resourceType") != "OperationOutcome":
            found.append(resource)
    return tuple(found)


def read_prefetch(sent: Mapping[str, Any], templates: tuple[PrefetchTemplate, ...]) -> dict[str, PrefetchValue]:
    """The state and resources of every declared key; BadRequest for a value that is no FHIR resource."""
    values: dict[str, PrefetchValue] = {}
    for template in templates:
        if template.key not in sent:
            values[template.key] = PrefetchValue(PrefetchState.ABSENT, describes=template.describes)
            continue
        value = sent[template.key]
        if value is None:
            values[template.key] = PrefetchValue(PrefetchState.NULL, describes=template.describes)
        elif not isinstance(value, dict) or not isinstance(value.get("resourceType"), str):
            raise BadRequest(f"prefetch '{template.key}' must be a FHIR resource, a Bundle or null")
        elif value["resourceType"] == "OperationOutcome":
            values[template.key] = PrefetchValue(PrefetchState.FAILED, describes=template.describes)
        else:
            values[template.key] = PrefetchValue(PrefetchState.PRESENT, _resources(template.key, value),
                                                 template.describes)
    missing = [t.key for t in templates
               if t.required and values[t.key].state in (PrefetchState.ABSENT, PrefetchState.FAILED)]
    if missing:
        raise DataUnavailable(
            "required prefetch not provided or failed: " + ", ".join(missing)
            + " (send the keys listed in discovery; fetching from fhirServer is not available)"
        )
    return values

