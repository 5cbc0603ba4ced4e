"""Real servers for the integration tests, each started on 127.0.0.1 by a fixture and stopped after.

A server that cannot start fails the test that needs it; nothing is skipped."""

from __future__ import annotations

import glob
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest
import requests
from playwright.sync_api import BrowserContext, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
PEERS = ROOT / "tests" / "fhir_server"
FIXTURES = ROOT / "fixtures"
STARTUP_SECONDS = 30
NOW = "2026-11-25T12:00:00Z"  # the fixtures' evaluation time (scenarios.toml)
ARTEFACTS = ROOT / "build" / "test-artefacts"  # screenshots and PDFs the browser tests keep (not committed)
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


def node_command(script: str, *args: str) -> list[str]:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed: `make test` installs what the integration tests need")
    if not (PEERS / "node_modules" / "@medplum" / "fhir-router").is_dir():
        pytest.fail("the test peers are not installed: run `make test` (it runs npm ci in tests/fhir_server)")
    # Medplum 5 expects Node 22's global WebSocket; Node 20 has it behind this flag.
    return [node, "--experimental-websocket", str(PEERS / script), *args]


@pytest.fixture(scope="session")
def fhir_server() -> Iterator[str]:
    """Medplum's in-memory FHIR search engine behind tests/fhir_server/server.mjs; yields its base URL."""
    process = subprocess.Popen(node_command("server.mjs", "--port", "0"), cwd=PEERS, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, start_new_session=True)
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], STARTUP_SECONDS)
        line = process.stdout.readline().decode() if ready else ""
        if not line.startswith("listening "):
            stop(process)
            rest = process.stdout.read().decode()[-2000:] if process.stdout else ""
            pytest.fail(f"the FHIR test server did not start: {line}{rest}")
        yield f"http://127.0.0.1:{int(line.split()[1])}"
    finally:
        stop(process)


def resources_of(request: dict[str, Any]) -> list[dict[str, Any]]:
    """Every resource of a fixture request's prefetch, older versions first (so the server keeps the latest)."""
    found: list[dict[str, Any]] = []
    for value in request.get("prefetch", {}).values():
        if value is None:
            continue
        if value.get("resourceType") == "Bundle":
            found.extend(e["resource"] for e in value.get("entry", []))
        else:
            found.append(value)
    return sorted(found, key=lambda r: (r.get("meta") or {}).get("lastUpdated", ""))


def load(fhir_base: str, resources: list[dict[str, Any]]) -> None:
    """Empty the FHIR server, then PUT every resource (FHIR update-as-create)."""
    assert requests.post(f"{fhir_base}/$reset", timeout=5).status_code == 200
    for resource in resources:
        response = requests.put(f"{fhir_base}/fhir/R4/{resource['resourceType']}/{resource['id']}",
                                data=orjson.dumps(resource), headers={"Content-Type": "application/fhir+json"},
                                timeout=5)
        assert response.status_code < 300, response.text


def fixture_request(hook: str, name: str) -> dict[str, Any]:
    return dict(json.loads((FIXTURES / hook / f"{name}.request.json").read_text()))


@contextmanager
def running_service(env: dict[str, str] | None = None, workers: int = 2) -> Iterator[tuple[str, int]]:
    """`neutropenia-cds serve` (gunicorn, threaded workers) on a free loopback port; yields (URL, master pid)."""
    port = free_port()
    # the service's log: a file, never a pipe nobody reads (a full pipe blocks it)
    log = tempfile.TemporaryFile()  # noqa: SIM115 -- closed in the finally below, after the process stops
    process = subprocess.Popen(
        [sys.executable, "-m", "cds_service.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
         "--workers", str(workers)],
        env={**os.environ, "NEUTROPENIA_CDS_NOW": NOW, **(env or {})},
        stdout=subprocess.DEVNULL, stderr=log, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if process.poll() is not None:
                log.seek(0)
                output = log.read().decode()[-3000:]
                pytest.fail(f"neutropenia-cds serve exited with {process.returncode}:\n{output}")
            try:
                if requests.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"neutropenia-cds serve did not answer within {STARTUP_SECONDS} s")
            time.sleep(0.1)
        yield url, process.pid
    finally:
        stop(process)
        log.close()


@pytest.fixture(scope="session")
def live_service() -> Iterator[str]:
    """The service as `make serve` runs it, clock fixed at the fixtures' NOW."""
    with running_service() as (url, _):
        yield url


def _pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if found:
        return Path(found[-1]).parent
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl is None:
        pytest.fail("PostgreSQL is not installed: `make test` installs the Debian package postgresql")
    return Path(pg_ctl).parent


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A real PostgreSQL server (Debian's binaries) in a scratch folder on 127.0.0.1, stopped after the session.
    PostgreSQL refuses to run as root, so under root (CI) it runs as the postgres user."""
    bin_dir = _pg_bin()
    data = Path(tempfile.mkdtemp(prefix="neutropenia-cds-pg-"))
    as_postgres: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(data, "postgres", "postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    port = free_port()

    def run(*command: str) -> None:
        done = subprocess.run([*as_postgres, *command], capture_output=True, timeout=120, check=False)
        if done.returncode != 0:
            pytest.fail(f"{command[0]} failed: {done.stderr.decode()[-2000:]}")

    run(str(bin_dir / "initdb"), "-D", str(data / "db"), "-U", "cds", "--auth=trust", "-E", "UTF8")
    run(str(bin_dir / "pg_ctl"), "-D", str(data / "db"), "-l", str(data / "log"), "-w", "-t", "60",
        "-o", f"-p {port} -k {data} -c listen_addresses=127.0.0.1", "start")
    try:
        run(str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "cds", "feedback")
        yield f"postgresql+psycopg://cds@127.0.0.1:{port}/feedback"
    finally:
        subprocess.run([*as_postgres, str(bin_dir / "pg_ctl"), "-D", str(data / "db"), "-m", "fast", "-w", "stop"],
                       capture_output=True, timeout=120, check=False)
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture(scope="session")
def chromium() -> Iterator[BrowserContext]:
    """Debian's Chromium, headless, driven by Playwright (never a downloaded browser), with a fresh profile."""
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("chromium is not installed: `make test` installs Debian's chromium")
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=executable, headless=True, args=CHROMIUM_FLAGS,
            viewport={"width": 1280, "height": 1000})
        yield context
        context.close()

