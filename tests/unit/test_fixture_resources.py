"""Every FHIR resource of every fixture is valid FHIR R4 (fhir.resources), but for the drafts that reproduce, on
purpose, what a real client sends: the service must read those, not refuse them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
# (fixture, resource id): why it is not valid FHIR R4 -- each the shape of the CDS Hooks Sandbox's own drafts
AS_REAL_CLIENTS_SEND = {
    ("order-select/select-sandbox-before-a-drug-is-chosen", "request-123"): "Rx View: no intent",
    ("order-select/select-sandbox-clozaril-anc-499", "request-123"): "Rx View: no intent",
    ("order-select/select-sandbox-vivotif-anc-450", "request-123"): "Rx View: no intent",
    ("order-sign/sign-sandbox-cyclophosphamide-anc-1200", "request-123"): "Rx Sign: category as one object",
    ("order-sign/sign-sandbox-linezolid-anc-800", "request-123"): "Rx Sign: category as one object",
}


def _resources(document: dict[str, Any]) -> list[dict[str, Any]]:
    if document.get("resourceType") == "Bundle":
        return [e["resource"] for e in document["entry"]]
    found = []
    for value in (document.get("prefetch") or {}).values():
        if value is not None:
            found += [e["resource"] for e in value.get("entry", [])] if value["resourceType"] == "Bundle" else [value]
    found += [e["resource"] for e in ((document.get("context") or {}).get("draftOrders") or {}).get("entry", [])]
    return found


FILES = sorted([*FIXTURES.glob("*/*.request.json"), *FIXTURES.glob("bundles/*.json")])


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(FIXTURES)) for p in FILES])
def test_every_fixture_resource_is_valid_fhir_r4(path: Path) -> None:
    name = str(path.relative_to(FIXTURES)).removesuffix(".request.json")
    for resource in _resources(json.loads(path.read_text())):
        model = get_fhir_model_class(resource["resourceType"])
        if (name, resource.get("id")) in AS_REAL_CLIENTS_SEND:
            with pytest.raises(ValidationError):  # still as the client sends it
                model.model_validate(resource)
            continue
        model.model_validate(resource)
