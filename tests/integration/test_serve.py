"""`neutropenia-cds serve` started for real (gunicorn, threaded workers) on a free 127.0.0.1 port, called over HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.contract import assert_cds_response, assert_operation_outcome
from tests.integration.conftest import running_service

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


def _chunked(total: int, chunk: int = 64 * 1024) -> Iterator[bytes]:
    """A JSON object of `total` bytes, sent with Transfer-Encoding: chunked (no Content-Length)."""
    yield b'{"hook": "patient-view", "pad": "'
    left = total - 40
    while left > 0:
        yield b"a" * min(chunk, left)
        left -= chunk
    yield b'"}'


def test_a_chunked_body_over_the_limit_is_413_not_cut(live_service: str) -> None:
    response = requests.post(f"{live_service}/cds-services/neutropenia-patient-view", data=_chunked(11 * 1024 * 1024),
                             headers={"Content-Type": "application/json"}, timeout=30)
    assert response.status_code == 413
    assert_operation_outcome(response.json(), "larger than the service accepts")


def test_a_chunked_body_under_the_limit_is_read_whole(live_service: str) -> None:
    request = json.loads((FIXTURES / "severe-adult-499.request.json").read_text())
    body = json.dumps(request).encode()
    response = requests.post(f"{live_service}/cds-services/neutropenia-patient-view",
                             data=iter([body[:100], body[100:]]), headers={"Content-Type": "application/json"},
                             timeout=5)
    assert response.status_code == 200
    assert len(assert_cds_response(response.json())) == 1


def test_metrics_add_up_every_workers_figures(tmp_path: Path) -> None:
    """Under `serve` (two workers, prometheus_client's multiprocess mode) /metrics counts every worker's calls,
    whichever worker answers the scrape."""
    request = json.loads((FIXTURES / "severe-adult-499.request.json").read_text())
    with running_service({"NEUTROPENIA_CDS_DATA_DIR": str(tmp_path)}, workers=2) as (url, _):
        for _ in range(20):
            assert requests.post(f"{url}/cds-services/neutropenia-patient-view", json=request,
                                 timeout=5).status_code == 200
        for _ in range(4):  # whichever worker answers, the sum is the same
            text = requests.get(f"{url}/metrics", timeout=5).text
            counted = [line for line in text.splitlines()
                       if line.startswith('cds_calls_total{service="neutropenia-patient-view",status="200"}')]
            assert counted and float(counted[0].split()[-1]) == 20
    assert not list(tmp_path.glob("metrics-*"))  # the instance's metrics folder goes with it
