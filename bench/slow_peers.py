"""Slow peers cannot take the service down: `neutropenia-cds serve` as deployed (2 workers, the default settings),
answering normal calls while two clients trickle their request headers a byte a second and two calls wait on a FHIR
server that takes 2.9 s to answer. Reports, for the normal calls, p50 and throughput alone and under those probes
(targets: p50 under 50 ms, throughput within 20 % of the figure alone). Bounded: about 30 s, 127.0.0.1 only.

    .venv/bin/python bench/slow_peers.py            (results: bench/results/slow_peers.json)
"""

from __future__ import annotations

import contextlib
import json
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.run import _free_port, _server  # noqa: E402

NOW = "2026-11-25T12:00:00Z"
FIXTURE = ROOT / "fixtures" / "patient-view" / "severe-adult-499.request.json"
SECONDS = 6.0  # of load, alone and under the probes
CLIENTS = 4  # concurrent normal callers


class _SlowFhir(BaseHTTPRequestHandler):
    """Answers every search after 2.9 s (within the fallback's 3 s budget)."""

    def do_GET(self) -> None:
        time.sleep(2.9)
        body = b'{"resourceType": "Bundle", "type": "searchset", "entry": []}'
        self.send_response(200)
        self.send_header("Content-Type", "application/fhir+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(OSError):  # the service gave up at the end of its budget
            self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def _slow_fhir() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SlowFhir)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/fhir"
    finally:
        server.shutdown()
        server.server_close()


def _normal_load(url: str, body: bytes, seconds: float) -> dict[str, float]:
    """CLIENTS callers posting the fixture for `seconds`: requests per second and p50 of the normal calls."""
    stop = time.monotonic() + seconds
    latencies: list[float] = []
    failures = 0

    def caller() -> None:
        nonlocal failures
        with requests.Session() as session:
            while time.monotonic() < stop:
                started = time.perf_counter()
                answer = session.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=30)
                latencies.append(time.perf_counter() - started)
                failures += answer.status_code != 200

    with ThreadPoolExecutor(CLIENTS) as pool:
        for _ in range(CLIENTS):
            pool.submit(caller)
    return {"requests_per_s": round(len(latencies) / seconds, 1),
            "p50_ms": round(statistics.median(latencies) * 1000, 2) if latencies else float("inf"),
            "over_1s": sum(1 for x in latencies if x > 1.0), "failures": failures}


def _trickle_headers(port: int, stop: threading.Event) -> None:
    """A client that sends its request line and headers one byte a second, for as long as the probe lasts."""
    request = b"POST /cds-services/neutropenia-patient-view HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-Slow: " + b"a" * 200
    while not stop.is_set():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                for byte in request:
                    if stop.is_set():
                        return
                    sock.sendall(bytes([byte]))
                    time.sleep(1.0)
        except OSError:
            time.sleep(0.2)  # the server let the connection go: come back, as an attacker would


def _slow_fhir_calls(url: str, body: dict[str, Any], stop: threading.Event) -> None:
    with requests.Session() as session:
        while not stop.is_set():
            session.post(url, json=body, timeout=30)


def main() -> None:
    port = _free_port()
    body = FIXTURE.read_bytes()
    url = f"http://127.0.0.1:{port}/cds-services/neutropenia-patient-view"
    with tempfile.TemporaryDirectory() as data_dir, _slow_fhir() as slow_fhir:
        env = {"NEUTROPENIA_CDS_NOW": NOW, "NEUTROPENIA_CDS_DATA_DIR": data_dir, "NEUTROPENIA_CDS_LOG_LEVEL": "ERROR"}
        command = [sys.executable, "-m", "cds_service.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
        with _server(command, env, port):
            _normal_load(url, body, 1.0)  # warm up
            alone = _normal_load(url, body, SECONDS)
            fallback = json.loads(body)
            fallback.pop("prefetch")
            fallback["fhirServer"] = slow_fhir
            stop = threading.Event()
            probes = [threading.Thread(target=_trickle_headers, args=(port, stop), daemon=True) for _ in range(2)]
            probes += [threading.Thread(target=_slow_fhir_calls, args=(url, fallback, stop), daemon=True)
                       for _ in range(2)]
            for probe in probes:
                probe.start()
            time.sleep(1.0)  # the probes have taken hold
            loaded = _normal_load(url, body, SECONDS)
            stop.set()
    ratio = round(loaded["requests_per_s"] / alone["requests_per_s"], 3) if alone["requests_per_s"] else 0.0
    results = {
        "alone": alone, "under_slow_peers": loaded, "throughput_ratio": ratio,
        "targets": {"under_slow_peers.p50_ms <= 50": loaded["p50_ms"] <= 50, "throughput_ratio >= 0.8": ratio >= 0.8},
    }
    out = ROOT / "bench" / "results" / "slow_peers.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"alone:            {alone}")
    print(f"under slow peers: {loaded}")
    print(f"throughput ratio: {ratio}")
    for target, met in results["targets"].items():
        print(f"target {target:40} {'met' if met else 'NOT MET'}")


if __name__ == "__main__":
    main()
