"""`neutropenia-cds serve` started for real (gunicorn, sync workers) on a free 127.0.0.1 port and called over HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from tests.contract import assert_cds_response, assert_operation_outcome

pytestmark = pytest.mark.integration
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "patient-view"


def test_discovery_over_http(live_service: str) -> None:
    response = requests.get(f"{live_service}/cds-services", timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    assert [s["id"] for s in response.json()["services"]] == [
        "neutropenia-patient-view", "neutropenia-order-select", "neutropenia-order-sign"]


def test_patient_view_over_http(live_service: str) -> None:
    request = json.loads((FIXTURES / "severe-adult-499.request.json").read_text())
    response = requests.post(f"{live_service}/cds-services/neutropenia-patient-view", json=request, timeout=5)
    assert response.status_code == 200
    (card,) = assert_cds_response(response.json())
    assert card["summary"] == "Severe neutropenia: ANC 499/uL (Nov 24)"
    assert card["indicator"] == "critical"


def test_error_over_http_is_an_operation_outcome(live_service: str) -> None:
    response = requests.post(f"{live_service}/cds-services/neutropenia-patient-view", data=b"{",
                             headers={"Content-Type": "application/json"}, timeout=5)
    assert response.status_code == 400
    assert_operation_outcome(response.json(), "not valid JSON")
