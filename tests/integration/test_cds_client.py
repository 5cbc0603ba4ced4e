"""A real CDS Hooks client -- Medplum's (@medplum/core: getCdsServices, buildCdsRequest, callCdsService) -- drives
the running service, with prefetch resolved against the real FHIR server, as an EHR would."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from tests.contract import assert_cds_response
from tests.integration.conftest import PEERS, fixture_request, load, node_command, resources_of

pytestmark = pytest.mark.integration


def _drive(live_service: str, fhir_server: str, hook: str, context: dict[str, Any] | None = None) -> dict[str, Any]:
    command = node_command("cds_client.mjs", "--cds", live_service, "--fhir", fhir_server, "--patient", "pat-1",
                           "--hook", hook, "--context", json.dumps(context or {}))
    done = subprocess.run(command, cwd=PEERS, capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    return dict(json.loads(done.stdout))


@pytest.mark.parametrize("name", ["severe-adult-499", "febrile-neutropenia-chemotherapy", "duffy-null-genotype"])
def test_medplum_client_gets_the_expected_patient_view_card(live_service: str, fhir_server: str, name: str) -> None:
    request = fixture_request("patient-view", name)
    load(fhir_server, resources_of(request))
    expected = json.loads(
        (PEERS.parents[1] / "fixtures" / "patient-view" / f"{name}.expected.json").read_text())["cards"]

    out = _drive(live_service, fhir_server, "patient-view")

    assert [s["id"] for s in out["discovery"]["services"]] == [
        "neutropenia-patient-view", "neutropenia-order-select", "neutropenia-order-sign"]
    (result,) = out["results"]
    assert result["prefetchKeys"] == list(out["discovery"]["services"][0]["prefetch"])
    cards = assert_cds_response(result["response"])
    assert [c["summary"] for c in cards] == [c["summary"] for c in expected]
    assert [c["extension"]["neutropenia-cds"] for c in cards] == [c["extension"]["neutropenia-cds"] for c in expected]


def test_medplum_client_order_sign(live_service: str, fhir_server: str) -> None:
    request = fixture_request("order-sign", "sign-several-risky-orders")
    load(fhir_server, resources_of(request))
    out = _drive(live_service, fhir_server, "order-sign", {"draftOrders": request["context"]["draftOrders"]})
    (result,) = out["results"]
    cards = assert_cds_response(result["response"])
    assert [c["suggestions"][0]["actions"][0]["resourceId"] for c in cards] == [
        "MedicationRequest/mmr", "MedicationRequest/carbo", "MedicationRequest/tmpsmx", "MedicationRequest/apap-pr"]


def test_medplum_client_order_sign_with_a_product_coded_sandbox_draft(live_service: str, fhir_server: str) -> None:
    """The Sandbox's Rx Sign draft -- no Bundle type, intent, an object category, dispenseRequest -- coded at product
    level (Cyclophosphamide 50 MG Oral Tablet, RxNorm SCD 197550), with the record on the FHIR server: ANC 1,200
    is a chemotherapy warning (R9, below 1,500)."""
    request = fixture_request("order-sign", "sign-sandbox-cyclophosphamide-anc-1200")
    load(fhir_server, resources_of(request))
    out = _drive(live_service, fhir_server, "order-sign", {"draftOrders": request["context"]["draftOrders"]})
    (result,) = out["results"]
    cards = assert_cds_response(result["response"])
    assert [(c["summary"], c["indicator"]) for c in cards] == [
        ("Cyclophosphamide 50 MG Oral Tablet: chemotherapy with ANC 1,200/uL (Nov 24)", "warning")]
    assert cards[0]["suggestions"][0]["actions"][0]["resourceId"] == "MedicationRequest/request-123"
