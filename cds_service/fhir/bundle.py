"""References inside a Bundle (FHIR R4, "Resolving references in Bundles"): an entry that another names by its
`fullUrl` -- a `urn:uuid:` or `urn:oid:` one, as a transaction Bundle, a Synthea record or a client's unsaved draft
orders have -- is read as `Type/id`, the form the rules match references in."""

from __future__ import annotations

from typing import Any


def _local_names(entries: list[Any]) -> dict[str, str]:
    """Each entry's urn: fullUrl -> its Type/id (entries without a resource type and an id are no target)."""
    names = {}
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        full_url, resource = entry.get("fullUrl"), entry.get("resource")
        if isinstance(full_url, str) and full_url.startswith("urn:") and isinstance(resource, dict):
            kind, resource_id = resource.get("resourceType"), resource.get("id")
            if isinstance(kind, str) and isinstance(resource_id, str) and resource_id:
                names[full_url] = f"{kind}/{resource_id}"
    return names


def _resolved(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {key: (names.get(item, item) if key == "reference" and isinstance(item, str) else
                      _resolved(item, names)) for key, item in value.items()}
    if isinstance(value, list):
        return [_resolved(item, names) for item in value]
    return value


def bundle_entries(bundle: dict[str, Any]) -> list[Any]:
    """The Bundle's entries as sent ([] when `entry` is no list), every reference to another entry by its urn:
    fullUrl read as that entry's Type/id."""
    entries = bundle.get("entry")
    if not isinstance(entries, list):
        return []
    names = _local_names(entries)
    return _resolved(entries, names) if names else entries


def next_link(bundle: dict[str, Any]) -> str | None:
    """The Bundle's `next` paging link: more of the search's results are to be read from there."""
    links = bundle.get("link")
    for link in links if isinstance(links, list) else []:
        if isinstance(link, dict) and link.get("relation") == "next" and isinstance(link.get("url"), str):
            return str(link["url"])
    return None


def withheld(bundle: dict[str, Any], answered: int) -> bool:
    """Whether a searchset page with no next link answered fewer resources than the search matched (`total`): a
    server that caps its answer without paging holds back the rest, so what was read is not all there is."""
    total = bundle.get("total")
    return type(total) is int and total > answered and next_link(bundle) is None


FAILED_IN_PART = frozenset({"error", "fatal"})  # OperationOutcome.issue.severity: the search did not all succeed


def search_results(entries: list[Any]) -> tuple[list[dict[str, Any]], bool]:
    """A searchset's resources (its OperationOutcome entries are not results), and whether one of those outcomes
    says the search failed in part."""
    found, failed_in_part = [], False
    for entry in entries:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict) and resource.get("resourceType") != "OperationOutcome":
            found.append(resource)
        failed_in_part = failed_in_part or says_failed_in_part(resource)
    return found, failed_in_part


def says_failed_in_part(resource: Any) -> bool:
    """Whether a Bundle entry is an OperationOutcome (search.mode "outcome": how the search went) with an issue of
    severity error or fatal -- the search failed in part, so what it returned may not be all there is."""
    if not isinstance(resource, dict) or resource.get("resourceType") != "OperationOutcome":
        return False
    issues = resource.get("issue")
    return any(isinstance(issue, dict) and issue.get("severity") in FAILED_IN_PART
               for issue in (issues if isinstance(issues, list) else []))
