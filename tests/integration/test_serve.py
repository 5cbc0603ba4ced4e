"""`neutropenia-cds serve` started for real (gunicorn, sync workers) on a free 127.0.0.1 port and called over HTTP."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.contract import assert_cds_response, assert_operation_outcome

pytestmark = pytest.mark.integration
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "patient-view"
STARTUP_SECONDS = 20


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    port = _free_port()
    env = {**os.environ, "NEUTROPENIA_CDS_NOW": "2026-11-25T12:00:00Z"}
    process = subprocess.Popen(
        [sys.executable, "-m", "cds_service.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if process.poll() is not None:
                output = process.stdout.read().decode() if process.stdout else ""
                pytest.fail(f"neutropenia-cds serve exited with {process.returncode}:\n{output}")
            try:
                if requests.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"neutropenia-cds serve did not answer within {STARTUP_SECONDS} s")
            time.sleep(0.1)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


def test_discovery_over_http(base_url: str) -> None:
    response = requests.get(f"{base_url}/cds-services", timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    assert [s["id"] for s in response.json()["services"]] == [
        "neutropenia-patient-view", "neutropenia-order-select", "neutropenia-order-sign"]


def test_patient_view_over_http(base_url: str) -> None:
    request = json.loads((FIXTURES / "severe-adult-499.request.json").read_text())
    response = requests.post(f"{base_url}/cds-services/neutropenia-patient-view", json=request, timeout=5)
    assert response.status_code == 200
    (card,) = assert_cds_response(response.json())
    assert card["summary"] == "Severe neutropenia: ANC 499/uL (Nov 24)"
    assert card["indicator"] == "critical"


def test_error_over_http_is_an_operation_outcome(base_url: str) -> None:
    response = requests.post(f"{base_url}/cds-services/neutropenia-patient-view", data=b"{",
                             headers={"Content-Type": "application/json"}, timeout=5)
    assert response.status_code == 400
    assert_operation_outcome(response.json(), "not valid JSON")
