"""Peers that answer five bytes a second (a real socket on 127.0.0.1; `responses` cannot be slow). A FHIR server: the
call's budget covers the whole read, the answers still being read are cut when it runs out, no search thread outlives
the call, and the next fallback -- to a healthy server -- is served at once. A terminology service, an EHR's SMART
configuration and token response: a call spends its budget on them, not the length of the answer. And clients that go
silent in the middle of a request, against `serve` itself. Bounded: about twenty seconds in all."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import orjson
import pytest
import requests

from cds_service.app import create_app
from cds_service.cli import SILENT_CLIENT_SECONDS
from cds_service.feedback.store import FeedbackStore
from cds_service.fhir.client import Allowlist, FhirClient, FhirLimits
from cds_service.security.jwt_auth import JwksCache, Unauthorized
from cds_service.settings import Settings
from cds_service.smart import LaunchRefused, discover, exchange_code
from cds_service.terminology import TerminologyService
from cds_service.urls import parse_url
from tests.builders import NOW, RXNORM, anc, bundle, hook_request, patient
from tests.integration.conftest import running_service

pytestmark = pytest.mark.integration
QUERIES = {"patient": "Patient/pat-1", "labs": "Observation?patient=pat-1&code=751-8"}
SMART = {"authorization_endpoint": "https://ehr.example.org/auth", "token_endpoint": "https://ehr.example.org/token",
         "code_challenge_methods_supported": ["S256"]}
TOKEN = {"access_token": "t", "token_type": "Bearer", "expires_in": 600, "patient": "pat-1"}
RELATED = {"relatedGroup": {"conceptGroup": [  # an RxNav related.json answer: the ingredient clozapine
    {"tty": "IN", "conceptProperties": [{"rxcui": "2626", "name": "clozapine"}]}]}}


class _Handler(BaseHTTPRequestHandler):
    slow = True

    def do_GET(self) -> None:
        self._answer(orjson.dumps(RELATED if "/rxcui/" in self.path else SMART if "/.well-known/" in self.path
                                  else patient() if "/Patient/" in self.path else bundle(anc(420))))

    def do_POST(self) -> None:  # an EHR's token endpoint
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self._answer(orjson.dumps(TOKEN))

    def _answer(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/fhir+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            for i in range(len(body)):
                self.wfile.write(body[i:i + 1])
                self.wfile.flush()
                if self.slow:
                    time.sleep(0.2)  # each read gets a byte well within its timeout: only a cut ends it
        except OSError:
            pass  # the client cut the answer off

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def servers() -> Iterator[tuple[str, str]]:
    slow = type("Slow", (_Handler,), {"slow": True})
    fast = type("Fast", (_Handler,), {"slow": False})
    running = [ThreadingHTTPServer(("127.0.0.1", 0), handler) for handler in (slow, fast)]
    for server in running:
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
    yield tuple(f"http://127.0.0.1:{s.server_address[1]}/fhir" for s in running)  # type: ignore[misc]
    for server in running:
        server.shutdown()
        server.server_close()


class _Stalling(BaseHTTPRequestHandler):
    """A peer that sends the start of its answer, then nothing for longer than any read timeout of these tests."""

    def _stall(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "1000")
        self.end_headers()
        try:
            self.wfile.write(b'{"resourceType": ')
            self.wfile.flush()
            time.sleep(3)
        except OSError:
            pass

    def do_GET(self) -> None:
        self._stall()

    def do_POST(self) -> None:
        self._stall()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def stalled() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Stalling)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/fhir"
    server.shutdown()
    server.server_close()


def test_a_peer_that_stops_sending_mid_answer_fails_its_read_never_the_call(stalled: str, tmp_path: Path) -> None:
    """A read that times out mid-answer raised urllib3's own exception, which every reader let through: a hook call
    with the FHIR fallback, a JWT's key set, a SMART launch or callback answered 500. Now each fails as a failed read:
    the fallback's data is missing (the card says so), the token is refused (401), the launch is refused (502), the
    terminology service is not asked again."""
    app = create_app(Settings(data_dir=tmp_path, fhir_read_timeout=1.0), clock=lambda: NOW)
    body = hook_request(anc(300))
    body["prefetch"] = {"patient": body["prefetch"]["patient"], "labs": body["prefetch"]["labs"]}
    body["fhirServer"] = stalled
    response = app.test_client().post("/cds-services/neutropenia-patient-view", json=body)
    assert response.status_code == 200
    (card,) = response.get_json()["cards"]
    assert card["summary"] == "Severe neutropenia: ANC 300/uL (Nov 24)"
    assert "Not available to this check: temperatures and birth weight" in card["detail"]
    with pytest.raises(Unauthorized, match="ReadTimeout"):
        JwksCache(timeout=1.0).key(f"{stalled}/jwks.json", "k1")
    with pytest.raises(LaunchRefused, match="ReadTimeout") as refused:
        discover(parse_url(stalled), requests.Session(), 1.0)
    assert refused.value.status == 502
    pending = {"token_endpoint": f"{stalled}/token", "code_verifier": "v" * 64}
    with pytest.raises(LaunchRefused, match="ReadTimeout") as refused:
        exchange_code(pending, "code-1", "neutropenia-cds", "https://cds.example.org/smart/callback", NOW,
                      requests.Session(), 1.0)
    assert refused.value.status == 502
    store = FeedbackStore(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    store.migrate()
    assert TerminologyService(stalled, store, RXNORM, budget_seconds=1.0).ingredients(["999001"]) == {}
    store.close()


def test_a_trickling_server_costs_one_budget_and_no_thread_outlives_the_call(
        servers: tuple[str, str]) -> None:
    slow, fast = servers
    client = FhirClient(Allowlist(("http://127.0.0.1:*",)), FhirLimits(budget_seconds=1.0, read_timeout=2.5),
                        workers=2)  # two threads: a thread kept by the slow server would starve the next call
    started = time.monotonic()
    results = client.fetch(parse_url(slow), None, QUERIES)
    spent = time.monotonic() - started
    assert all(r.error == "timed out" for r in results.values())
    assert spent < 2.0, f"the fallback took {spent:.1f} s for a 1 s budget"
    started = time.monotonic()
    healthy = client.fetch(parse_url(fast), None, QUERIES)
    assert healthy["patient"].error is None and healthy["labs"].error is None
    assert healthy["labs"].resources[0]["valueQuantity"]["value"] == 420
    assert time.monotonic() - started < 1.0  # served at once: no thread was still held by the slow server


class _Gathering(BaseHTTPRequestHandler):
    """A FHIR server that answers no search until `expected` of them are in flight together (then all at once), or
    until `patience` seconds have passed (then a 503): whether the service can run them all at the same time."""

    gathered: threading.Barrier

    def do_GET(self) -> None:
        try:
            self.gathered.wait()
        except threading.BrokenBarrierError:
            self.send_error(503)
            return
        body = orjson.dumps(patient() if "/Patient/" in self.path else bundle(anc(420)) if "751-8" in self.path
                            else bundle())
        self.send_response(200)
        self.send_header("Content-Type", "application/fhir+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_every_search_of_every_call_a_worker_answers_can_be_in_flight_at_once(tmp_path: Path) -> None:
    """The fallback's searches ran on 16 threads per worker, shared by its `threads` calls of up to one search per
    prefetch key each: two calls waiting on a slow FHIR server took them all, and every other call's fallback in that
    worker -- to any server -- waited behind them (2.7 s instead of 0.03 s, measured). Now a worker has a search
    thread for every search its calls can make at once: here 2 calls x 10 keys, which this server answers only
    when all are in flight together."""
    settings = Settings(data_dir=tmp_path, threads=2, fhir_server_allowlist=("http://127.0.0.1:*",),
                        fhir_budget_seconds=6.0, fhir_read_timeout=5.0, fhir_connect_timeout=4.0)
    app = create_app(settings, clock=lambda: NOW)
    service = app.extensions["cds_services"]["neutropenia-patient-view"]
    handler = type("Gathering", (_Gathering,), {
        "gathered": threading.Barrier(settings.threads * len(service.prefetch), timeout=3.0)})
    # a listen queue for every search at once (socketserver's 5 drops the rest: a second's wait to connect again)
    server = type("Listening", (ThreadingHTTPServer,), {"request_queue_size": 64})(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    body = hook_request()
    del body["prefetch"]  # nothing sent: every key is searched
    body["fhirServer"] = f"http://127.0.0.1:{server.server_address[1]}/fhir"
    answers: list[tuple[int, list[str]]] = []

    def call() -> None:
        response = app.test_client().post("/cds-services/neutropenia-patient-view", json=body)
        answers.append((response.status_code, [c["summary"] for c in response.get_json().get("cards", [])]))

    calls = [threading.Thread(target=call) for _ in range(settings.threads)]
    try:
        for thread in calls:
            thread.start()
        for thread in calls:
            thread.join(timeout=10)
    finally:
        server.shutdown()
        server.server_close()
    assert answers == [(200, ["Severe neutropenia: ANC 420/uL (Nov 24)"])] * settings.threads


def test_a_trickling_terminology_service_costs_a_call_its_budget(servers: tuple[str, str], tmp_path: Path) -> None:
    slow, fast = servers
    store = FeedbackStore(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    store.migrate()
    started = time.monotonic()
    answers = TerminologyService(slow, store, RXNORM, budget_seconds=1.0).ingredients(["999001"])
    spent = time.monotonic() - started
    assert answers == {}  # not answered in time: the order stays as it was (R9: never guessed)
    assert spent < 2.5, f"the look-up took {spent:.1f} s for a 1 s budget"
    assert TerminologyService(fast, store, RXNORM).ingredients(["999001"]) == {"999001": [("2626", "clozapine")]}
    store.close()


def test_an_ehr_trickling_its_smart_configuration_costs_a_launch_its_timeout(servers: tuple[str, str]) -> None:
    slow, fast = servers
    started = time.monotonic()
    with pytest.raises(LaunchRefused) as refused:
        discover(parse_url(slow), requests.Session(), 1.0)
    assert refused.value.status == 502 and time.monotonic() - started < 2.5
    assert discover(parse_url(fast), requests.Session(), 1.0).token_endpoint == "https://ehr.example.org/token"


def test_an_ehr_trickling_its_token_response_costs_a_launch_its_timeout(servers: tuple[str, str]) -> None:
    """(the token exchange read each byte within the read timeout, however long the whole answer took)"""
    slow, fast = servers
    pending = {"token_endpoint": f"{slow}/token", "code_verifier": "v" * 64}
    started = time.monotonic()
    with pytest.raises(LaunchRefused) as refused:
        exchange_code(pending, "code-1", "neutropenia-cds", "https://cds.example.org/smart/callback", NOW,
                      requests.Session(), 1.0)
    assert refused.value.status == 502 and time.monotonic() - started < 2.5
    pending["token_endpoint"] = f"{fast}/token"
    authorised = exchange_code(pending, "code-1", "neutropenia-cds", "https://cds.example.org/smart/callback", NOW,
                               requests.Session(), 1.0)
    assert (authorised.access_token, authorised.patient) == ("t", "pat-1")



def _read_until_closed(connection: socket.socket) -> bytes:
    connection.settimeout(5)
    received = b""
    with connection:
        while chunk := connection.recv(4096):
            received += chunk
    return received


def test_clients_that_go_silent_in_the_middle_of_a_request_are_let_go() -> None:
    """A peer that stops sending in its headers or its body -- a connection that died without a word, or one held on
    purpose -- holds a worker thread for SILENT_CLIENT_SECONDS at most, never for ever: with both threads of the one
    worker held so, a normal call is still answered, and each silent client is let go (the one cut in its body is
    told why)."""
    start = b"POST /cds-services/neutropenia-patient-view HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    with running_service({"NEUTROPENIA_CDS_THREADS": "2"}, workers=1) as (url, _):
        port = int(url.rsplit(":", 1)[1])
        silent = [socket.create_connection(("127.0.0.1", port)) for _ in range(2)]
        silent[0].sendall(start + b"Content-Ty")
        silent[1].sendall(start + b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
        time.sleep(0.5)
        started = time.monotonic()
        response = requests.post(f"{url}/cds-services/neutropenia-patient-view", json=hook_request(anc(420)),
                                 timeout=SILENT_CLIENT_SECONDS + 10)
        assert response.status_code == 200 and "ANC 420/uL" in response.json()["cards"][0]["summary"]
        assert time.monotonic() - started < SILENT_CLIENT_SECONDS + 5
        answers = [_read_until_closed(connection) for connection in silent]  # let go by now
        assert answers[0] == b""
        assert answers[1].startswith(b"HTTP/1.1 400") and b"the request body ended early" in answers[1]
