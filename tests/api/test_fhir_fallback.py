"""The FHIR fallback against a mocked server (`responses`): every prefetch state, paging, and the faults a real
server cannot produce on demand. No request leaves the process."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest
import requests
import responses
from flask.testing import FlaskClient

from cds_service.app import create_app
from cds_service.settings import Settings
from tests.builders import NOW, ago, anc, bundle, hook_request, medication, patient, temperature
from tests.contract import assert_cds_response, assert_operation_outcome

BASE = "http://127.0.0.1:9/fhir"
URL = "/cds-services/neutropenia-patient-view"
TOKEN = "secret-access-token-123"
ANY = re.compile(re.escape(BASE) + r"/.*")


def _kind(url: str) -> str:
    """Which prefetch key a fallback search is for, by resource type and codes."""
    parts = urlsplit(url)
    resource = parts.path.rsplit("/", 2)[-1] if "?" not in url else parts.path.rsplit("/", 1)[-1]
    codes = parse_qs(parts.query).get("code", [""])[0]
    if parts.path.endswith("/Patient/pat-1"):
        return "patient"
    if resource == "Observation":
        return "labs" if "751-8" in codes else "vitals" if "8310-5" in codes else "duffy"
    return resource


Handler = Callable[[requests.PreparedRequest], tuple[int, dict[str, str], bytes]]


def _server(data: dict[str, Any], overrides: dict[str, Handler] | None = None) -> Handler:
    def handle(request: requests.PreparedRequest) -> tuple[int, dict[str, str], bytes]:
        kind = _kind(str(request.url))
        if overrides and kind in overrides:
            return overrides[kind](request)
        body = data.get(kind, bundle())
        return 200, {"Content-Type": "application/fhir+json"}, orjson.dumps(body)
    return handle


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def _fallback_request(**prefetch: Any) -> dict[str, Any]:
    body = hook_request(prefetch=prefetch)
    body["fhirServer"] = BASE
    body["fhirAuthorization"] = {"access_token": TOKEN, "token_type": "Bearer", "expires_in": 300,
                                 "scope": "patient/*.read", "subject": "cds-service"}
    return body


DATA = {"patient": patient(), "labs": bundle(anc(420))}


def test_absent_prefetch_is_fetched_with_the_token(client: FlaskClient, mocked: responses.RequestsMock) -> None:
    mocked.add_callback(responses.GET, ANY, callback=_server(DATA))
    response = client.post(URL, json=_fallback_request())
    (card,) = assert_cds_response(response.get_json())
    assert card["summary"] == "Severe neutropenia: ANC 420/uL (Nov 24)"
    assert len(mocked.calls) == 10  # every declared key
    for call in mocked.calls:
        assert call.request.headers["Authorization"] == f"Bearer {TOKEN}"
        assert call.request.headers["Accept"] == "application/fhir+json"
    labs = next(c.request.url for c in mocked.calls if _kind(str(c.request.url)) == "labs")
    query = parse_qs(urlsplit(str(labs)).query)
    assert query["patient"] == ["pat-1"] and query["_sort"] == ["-date"]
    assert "date" not in query  # R1: an undated result is dated by its report, so labs are bounded by pages
    vitals = next(c.request.url for c in mocked.calls if _kind(str(c.request.url)) == "vitals")
    assert parse_qs(urlsplit(str(vitals)).query)["date"] == ["ge2025-11-25"]  # the 365-day look-back
    assert "Not available" not in card["detail"]


def test_prefetch_states(client: FlaskClient, mocked: responses.RequestsMock) -> None:
    """present: used; null: no data, never queried; OperationOutcome: queried; absent: queried."""
    mocked.add_callback(responses.GET, ANY, callback=_server({**DATA, "vitals": bundle(temperature("39.0"))}))
    failed = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "timeout"}]}
    body = _fallback_request(patient=patient(), labs=failed, vitals=None, labReports=bundle())
    (card,) = assert_cds_response(client.post(URL, json=body).get_json())
    fetched = sorted(_kind(str(c.request.url)) for c in mocked.calls)
    assert fetched == sorted(["labs", "MedicationRequest", "MedicationAdministration", "MedicationStatement",
                              "Procedure", "Condition", "duffy"])
    assert card["extension"]["neutropenia-cds"]["febrile"] is False  # vitals were null: no data, not fetched


def test_no_fhir_server_and_no_prefetch_is_412(client: FlaskClient) -> None:
    response = client.post(URL, json=hook_request(prefetch={}))
    assert response.status_code == 412
    assert_operation_outcome(response.get_json(), "patient, labs (no fhirServer was sent)")


@pytest.mark.parametrize(("fault", "reason"), [
    (lambda r: (401, {}, b'{"resourceType": "OperationOutcome"}'), "answered HTTP 401"),
    (lambda r: (403, {}, b""), "answered HTTP 403"),
    (lambda r: (404, {}, b""), "answered HTTP 404"),
    (lambda r: (500, {}, b"Internal Server Error"), "answered HTTP 500"),
    (lambda r: (200, {"Content-Type": "application/fhir+json"}, b'{"resourceType": "Bundle", "entry": ['),
     "answered malformed JSON"),
    (lambda r: (200, {}, b'[1, 2, 3]'), "answered JSON that is not a FHIR resource"),
    (lambda r: (200, {}, orjson.dumps(patient())), "answered a 'Patient', not a Bundle"),
    (lambda r: (302, {"Location": "http://169.254.169.254/latest/meta-data/"}, b""), "answered HTTP 302"),
])
def test_faults_on_required_data_give_412(client: FlaskClient, mocked: responses.RequestsMock,
                                          fault: Handler, reason: str) -> None:
    mocked.add_callback(responses.GET, ANY, callback=_server(DATA, {"labs": fault}))
    response = client.post(URL, json=_fallback_request())
    assert response.status_code == 412
    diagnostics = assert_operation_outcome(response.get_json(), "labs")
    assert reason in diagnostics
    assert all("169.254" not in str(c.request.url) for c in mocked.calls)  # redirects are never followed


def test_a_fhir_answer_with_a_byte_order_mark_is_read(client: FlaskClient, mocked: responses.RequestsMock) -> None:
    """RFC 8259 lets a parser ignore a UTF-8 byte order mark, and some servers write one: it is not malformed."""
    def with_mark(request: requests.PreparedRequest) -> tuple[int, dict[str, str], bytes]:
        return 200, {"Content-Type": "application/fhir+json"}, b"\xef\xbb\xbf" + orjson.dumps(bundle(anc(420)))
    mocked.add_callback(responses.GET, ANY, callback=_server(DATA, {"labs": with_mark}))
    (card,) = assert_cds_response(client.post(URL, json=_fallback_request()).get_json())
    assert card["summary"] == "Severe neutropenia: ANC 420/uL (Nov 24)"


def _timeout(request: requests.PreparedRequest) -> tuple[int, dict[str, str], bytes]:
    raise requests.exceptions.ReadTimeout("read timed out")


def test_timeout_on_required_data_gives_412(client: FlaskClient, mocked: responses.RequestsMock) -> None:
    mocked.add_callback(responses.GET, ANY, callback=_server(DATA, {"labs": _timeout}))
    response = client.post(URL, json=_fallback_request())
    assert response.status_code == 412
    assert_operation_outcome(response.get_json(), "ReadTimeout")


def test_slow_server_is_cut_off_by_the_budget(mocked: responses.RequestsMock) -> None:
    release = threading.Event()

    def slow(request: requests.PreparedRequest) -> tuple[int, dict[str, str], bytes]:
        release.wait(2)  # held until the test ends; the budget must not wait for it
        return 200, {}, orjson.dumps(bundle(anc(420)))

    app = create_app(Settings(fhir_budget_seconds=0.2), clock=lambda: NOW)
    mocked.add_callback(responses.GET, ANY, callback=_server(DATA, {"labs": slow}))
    try:
        response = app.test_client().post(URL, json=_fallback_request())
        assert response.status_code == 412
        assert_operation_outcome(response.get_json(), "labs (fetching from fhirServer failed: timed out)")
    finally:
        release.set()


def test_fault_on_optional_data_is_named_on_the_card(client: FlaskClient, mocked: responses.RequestsMock) -> None:
    mocked.add_callback(responses.GET, ANY, callback=_server(DATA, {"vitals": lambda r: (500, {}, b"")}))
    (card,) = assert_cds_response(client.post(URL, json=_fallback_request()).get_json())
    assert "Not available to this check: temperatures and birth weight." in card["detail"]


def _paged(pages: list[dict[str, Any]]) -> Handler:
    def handle(request: requests.PreparedRequest) -> tuple[int, dict[str, str], bytes]:
        page = int(parse_qs(urlsplit(str(request.url)).query).get("page", ["0"])[0])
        return 200, {}, orjson.dumps(pages[page])
    return handle


def _page(resources: list[dict[str, Any]], next_url: str | None) -> dict[str, Any]:
    page = bundle(*resources)
    if next_url:
        page["link"] = [{"relation": "self", "url": "x"}, {"relation": "next", "url": next_url}]
    return page


def test_paging_follows_next_links(client: FlaskClient, mocked: responses.RequestsMock) -> None:
    pages = [_page([anc(2500, when="2026-11-24T08:00:00Z")], f"{BASE}/Observation?code=751-8&page=1"),
             _page([anc(400, when="2026-11-20T08:00:00Z")], None)]
    mocked.add_callback(responses.GET, ANY, callback=_server(DATA, {"labs": _paged(pages)}))
    cards = assert_cds_response(client.post(URL, json=_fallback_request()).get_json())
    assert cards == []  # the newest ANC (page 1) is normal; page 2 was read too
    assert sum(1 for c in mocked.calls if _kind(str(c.request.url)) == "labs") == 2


def test_paging_never_loops(client: FlaskClient, mocked: responses.RequestsMock) -> None:
    pages = [_page([anc(420)], f"{BASE}/Observation?code=751-8&page=0")]  # an endless loop back to the first page
    mocked.add_callback(responses.GET, ANY, callback=_server(DATA, {"labs": _paged(pages)}))
    (card,) = assert_cds_response(client.post(URL, json=_fallback_request()).get_json())
    assert "**Read only in part**" in card["detail"] and "laboratory results" in card["detail"]


@pytest.mark.parametrize(("next_url", "reason"), [
    ("http://169.254.169.254/latest/meta-data/?page=0", "leaves the fhirServer's origin"),
    ("http://127.0.0.1:10/fhir/Observation?page=2", "leaves the fhirServer's origin"),  # allowlisted, another origin
    ("http://127.0.0.1:10\\@127.0.0.1:9/fhir/Observation?page=2", "not a well-formed URL"),
    ("http://user:pw@127.0.0.1:9/fhir/Observation?page=2", "not a well-formed URL"),
    ("http://127.0.0.1\uff1a10/fhir/Observation?page=2", "not a well-formed URL"),  # a full-width colon
    ("http://[/fhir", "not a well-formed URL"),
])
def test_a_bad_next_link_is_412_and_never_followed(client: FlaskClient, mocked: responses.RequestsMock,
                                                   next_url: str, reason: str) -> None:
    """A paging link is parsed once, as the fhirServer is: one that is malformed or leaves the server's exact
    origin fails the search (412 for the labs), and neither it nor the token goes anywhere."""
    pages = [_page([anc(420)], next_url)]
    mocked.add_callback(responses.GET, ANY, callback=_server(DATA, {"labs": _paged(pages)}))
    response = client.post(URL, json=_fallback_request())
    assert response.status_code == 412
    assert reason in assert_operation_outcome(response.get_json(), "labs")
    assert all(str(c.request.url).startswith(BASE + "/") for c in mocked.calls)
    assert sum(1 for c in mocked.calls if _kind(str(c.request.url)) == "labs") == 1


@pytest.mark.parametrize("fhir_server", [
    "https://localhost:28444\\@127.0.0.1:28443/ok",  # one parser sees 127.0.0.1:28443, another localhost:28444
    "http://user:pw@127.0.0.1:9/fhir",  # userinfo would replace the Bearer token
    "https://[",
    "http://127.0.0.1\uff1a9/fhir",  # a full-width colon in the host
    "http://127.0.0.1:9/fhir ",
    " http://127.0.0.1:9/fhir",
    "http://127.0.0.1:9/fh\nir",
    "http://127.0.0.%31:9/fhir",
    "ftp://127.0.0.1:9/fhir",
    "http://127.0.0.1:99999/fhir",
])
def test_a_malformed_fhir_server_is_never_fetched(client: FlaskClient, mocked: responses.RequestsMock,
                                                 fhir_server: str) -> None:
    # the data it would give is not obtainable: 412 (a call is refused only for what it needs and cannot get)
    body = {**_fallback_request(), "fhirServer": fhir_server}
    response = client.post(URL, json=body)
    assert response.status_code == 412
    assert_operation_outcome(response.get_json(), "patient, labs (fhirServer must be an http or https URL")
    assert len(mocked.calls) == 0


@pytest.mark.parametrize(("authorization", "text"), [
    (TOKEN, "fhirAuthorization must be a JSON object"),
    ({"token_type": "Bearer"}, "fhirAuthorization.access_token must be a non-empty string"),
    ({"access_token": " ", "token_type": "Bearer"}, "fhirAuthorization.access_token must be a non-empty string"),
    ({"access_token": TOKEN, "token_type": "MAC"}, "fhirAuthorization.token_type must be 'Bearer'"),
    ({"access_token": TOKEN}, "fhirAuthorization.token_type must be 'Bearer'"),
])
def test_a_malformed_fhir_authorization_is_never_used(client: FlaskClient, mocked: responses.RequestsMock,
                                                      authorization: Any, text: str) -> None:
    # neither fetched with a token that cannot be read, nor without the one the client meant to give
    response = client.post(URL, json={**_fallback_request(), "fhirAuthorization": authorization})
    assert response.status_code == 412
    assert_operation_outcome(response.get_json(), f"patient, labs ({text})")
    assert len(mocked.calls) == 0


@pytest.mark.parametrize("token_type", ["bearer", "BEARER", "Bearer"])
def test_token_type_is_read_as_oauth_says_case_insensitive(client: FlaskClient, mocked: responses.RequestsMock,
                                                          token_type: str) -> None:
    # RFC 6749, 5.1: "The value is case insensitive"; the token is sent as RFC 6750 writes it
    mocked.add_callback(responses.GET, ANY, callback=_server(DATA))
    body = _fallback_request()
    body["fhirAuthorization"]["token_type"] = token_type
    (card,) = assert_cds_response(client.post(URL, json=body).get_json())
    assert card["summary"] == "Severe neutropenia: ANC 420/uL (Nov 24)"
    assert {c.request.headers["Authorization"] for c in mocked.calls} == {f"Bearer {TOKEN}"}


@pytest.mark.parametrize("prefetch", [
    "Observation?code=751-8",  # (the whole prefetch: not an object)
    {"patient": "Patient/pat-1", "labs": {"resourceType": "Bundle", "entry": {"resource": anc(300)}}},
    {"patient": [patient()], "labs": 751},
])
def test_prefetch_values_no_rule_can_read_are_fetched(client: FlaskClient, mocked: responses.RequestsMock,
                                                      prefetch: Any) -> None:
    # CDS Hooks 2.0: the service fetches what the prefetch does not give; the values sent are never guessed at
    mocked.add_callback(responses.GET, ANY, callback=_server(DATA))
    body = {**_fallback_request(), "prefetch": prefetch}
    (card,) = assert_cds_response(client.post(URL, json=body).get_json())
    assert card["summary"] == "Severe neutropenia: ANC 420/uL (Nov 24)"  # the fetched ANC, not the 300 sent
    fetched = {_kind(str(c.request.url)) for c in mocked.calls}
    assert {"patient", "labs"} <= fetched


@pytest.mark.parametrize("patient_id", ["..", ".", "...", "a/b", "a%2Fb", "x" * 65, "pat 1"])
def test_a_patient_id_outside_the_fhir_id_grammar_is_400(client: FlaskClient, mocked: responses.RequestsMock,
                                                         patient_id: str) -> None:
    body = _fallback_request()
    body["context"]["patientId"] = patient_id
    response = client.post(URL, json=body)
    assert response.status_code == 400
    assert_operation_outcome(response.get_json(), "context.patientId must be a FHIR id")
    assert len(mocked.calls) == 0


def test_paging_stops_at_the_page_bound(mocked: responses.RequestsMock) -> None:
    app = create_app(Settings(fhir_max_pages=3), clock=lambda: NOW)
    pages = [_page([anc(420 + i, id=f"a{i}")], f"{BASE}/Observation?code=751-8&page={i + 1}") for i in range(10)]
    mocked.add_callback(responses.GET, ANY, callback=_server(DATA, {"labs": _paged(pages)}))
    (card,) = assert_cds_response(app.test_client().post(URL, json=_fallback_request()).get_json())
    assert sum(1 for c in mocked.calls if _kind(str(c.request.url)) == "labs") == 3
    assert "**Read only in part**" in card["detail"]


def test_enormous_page_is_refused(mocked: responses.RequestsMock) -> None:
    app = create_app(Settings(fhir_max_response_bytes=4096), clock=lambda: NOW)
    huge = bundle(*[anc(2500, id=f"a{i}") for i in range(200)])
    mocked.add_callback(responses.GET, ANY, callback=_server({**DATA, "labs": huge}))
    response = app.test_client().post(URL, json=_fallback_request())
    assert response.status_code == 412
    assert_operation_outcome(response.get_json(), "answers larger than the size limit")


@pytest.mark.parametrize("server", [
    "https://fhir.example.org/r4",  # a public host not on the allowlist
    "http://169.254.169.254/latest/meta-data",  # cloud metadata, link-local
    "http://10.0.0.5/fhir",  # a private address
    "http://127.0.0.1.nip.io/fhir",  # a name that only looks like loopback
])
def test_fhir_server_not_on_the_allowlist_is_never_contacted(client: FlaskClient, mocked: responses.RequestsMock,
                                                             server: str) -> None:
    body = _fallback_request()
    body["fhirServer"] = server
    response = client.post(URL, json=body)
    assert response.status_code == 412
    assert_operation_outcome(response.get_json(), "fhirServer is not on this service's allowlist")
    assert len(mocked.calls) == 0


def test_configured_allowlist_replaces_the_default(mocked: responses.RequestsMock) -> None:
    app = create_app(Settings(fhir_server_allowlist=("https://fhir.hospital.example",)), clock=lambda: NOW)
    mocked.add_callback(responses.GET, re.compile(r"https://fhir\.hospital\.example/.*"), callback=_server(DATA))
    body = _fallback_request()
    body["fhirServer"] = "https://fhir.hospital.example/r4"
    assert assert_cds_response(app.test_client().post(URL, json=body).get_json())
    body["fhirServer"] = BASE  # loopback is only in the dev default
    assert app.test_client().post(URL, json=body).status_code == 412


def test_token_never_reaches_the_log(client: FlaskClient, mocked: responses.RequestsMock,
                                     caplog: pytest.LogCaptureFixture) -> None:
    mocked.add_callback(responses.GET, ANY, callback=_server(DATA, {"labs": lambda r: (500, {}, b"")}))
    with caplog.at_level(logging.DEBUG):
        client.post(URL, json=_fallback_request())
    text = caplog.text
    assert "FHIR fallback search failed: answered HTTP 500" in text
    assert TOKEN not in text and "pat-1" not in text


@pytest.mark.parametrize("patient_id", ["pat-1&code=x", "../Patient/other", "a" * 65, "pat 1"])
def test_patient_id_that_is_not_a_fhir_id_is_400(client: FlaskClient, patient_id: str) -> None:
    body = _fallback_request()
    body["context"]["patientId"] = patient_id
    response = client.post(URL, json=body)
    assert response.status_code == 400
    assert_operation_outcome(response.get_json(), "context.patientId must be a FHIR id")


def test_the_size_limit_covers_every_answer_of_the_call_together(mocked: responses.RequestsMock) -> None:
    """Memory is bounded by the cap, not by what the server sends: pages each under it, together over it."""
    page = bundle(*[anc(2500, id=f"a{i}") for i in range(20)])
    size = len(orjson.dumps(page))
    app = create_app(Settings(fhir_max_response_bytes=3 * size, fhir_max_pages=10), clock=lambda: NOW)
    pages = [_page([anc(400, id=f"p{n}-{i}") for i in range(20)], f"{BASE}/Observation?code=751-8&page={n + 1}")
             for n in range(10)]
    mocked.add_callback(responses.GET, ANY, callback=_server({**DATA, "labs": bundle()}, {"labs": _paged(pages)}))
    response = app.test_client().post(URL, json=_fallback_request(patient=patient()))
    labs_calls = sum(1 for c in mocked.calls if _kind(str(c.request.url)) == "labs")
    assert labs_calls < 4  # stopped once the call's bytes were spent
    (card,) = assert_cds_response(response.get_json())
    assert "**Read only in part**" in card["detail"]


# CDS Hooks 2.0: a prefetch search may come paged -- a searchset Bundle with a `next` link -- and it is "the CDS
# Service's responsibility ... to programmatically retrieve any additional necessary data". A patient with more
# medication records than a page holds has the rest on the next pages: the chemotherapy among them is found there.
def _paged_prefetch(next_url: str) -> dict[str, Any]:
    first = _page([medication("MedicationAdministration", "26225", ago(days=9))], next_url)  # ondansetron
    return {"patient": patient(), "labs": bundle(anc(800)), "vitals": bundle(temperature("38.6")),
            "medicationAdministrations": first}


MORE = f"{BASE}/MedicationAdministration?patient=pat-1&page=1"


def test_a_paged_prefetch_is_read_to_its_last_page_from_the_fhir_server(client: FlaskClient,
                                                                        mocked: responses.RequestsMock) -> None:
    pages = [bundle(), bundle(medication("MedicationAdministration", "40048", ago(days=9)))]  # carboplatin
    mocked.add_callback(responses.GET, ANY, callback=_server(DATA, {"MedicationAdministration": _paged(pages)}))
    body = _fallback_request(**_paged_prefetch(MORE))
    (card,) = assert_cds_response(client.post(URL, json=body).get_json())
    # R7: ANC 800, a fever, carboplatin 9 days ago (on the second page): febrile neutropenia by the proxy
    assert card["extension"]["neutropenia-cds"]["finding"] == "febrile-neutropenia"
    (call,) = [c for c in mocked.calls if "MedicationAdministration" in str(c.request.url)]
    assert call.request.url == MORE and call.request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert "Read only in part" not in card["detail"]


def test_a_paged_prefetch_that_cannot_be_followed_is_said_to_be_partial(client: FlaskClient,
                                                                       mocked: responses.RequestsMock) -> None:
    mocked.add_callback(responses.GET, ANY, callback=_server(DATA))
    for body in (hook_request(prefetch=_paged_prefetch(MORE)),  # no fhirServer to read the rest from
                 _fallback_request(**_paged_prefetch("http://169.254.169.254/latest/meta-data/?page=1"))):
        (card,) = assert_cds_response(client.post(URL, json=body).get_json())
        assert card["extension"]["neutropenia-cds"]["finding"] == "fever-with-neutropenia"
        assert "**Read only in part**" in card["detail"] and "medication administrations" in card["detail"]
    assert all(str(c.request.url).startswith(BASE + "/") for c in mocked.calls)  # never off the server's origin
    assert not [c for c in mocked.calls if "MedicationAdministration" in str(c.request.url)]


# FHIR R4 search: an OperationOutcome entry (search.mode "outcome") tells how the search went. One with an issue of
# severity error or fatal says the search failed in part: the data is then said to be read only in part.
def _outcome(severity: str) -> dict[str, Any]:
    return {"resource": {"resourceType": "OperationOutcome", "issue": [
        {"severity": severity, "code": "incomplete", "diagnostics": "some results could not be returned"}]},
            "search": {"mode": "outcome"}}


@pytest.mark.parametrize(("severity", "partial"), [("error", True), ("fatal", True), ("warning", False),
                                                   ("information", False)])
def test_a_search_that_says_it_failed_in_part_is_read_as_partial(client: FlaskClient, mocked: responses.RequestsMock,
                                                                 severity: str, partial: bool) -> None:
    sent = hook_request(anc(420))
    sent["prefetch"]["labs"]["entry"].append(_outcome(severity))  # in a prefetch Bundle
    fetched_labs = bundle(anc(420))
    fetched_labs["entry"].append(_outcome(severity))  # in a page the fallback reads
    mocked.add_callback(responses.GET, ANY, callback=_server({"patient": patient(), "labs": fetched_labs}))
    for body in (sent, _fallback_request()):
        (card,) = assert_cds_response(client.post(URL, json=body).get_json())
        assert card["summary"] == "Severe neutropenia: ANC 420/uL (Nov 24)"
        assert ("**Read only in part**" in card["detail"] and "laboratory results" in card["detail"]) is partial


def test_a_count_past_a_double_in_a_fhir_answer_is_a_data_problem_of_its_own(client: FlaskClient,
                                                                              mocked: responses.RequestsMock) -> None:
    """R10: one ANC of the search's answer has a value past a double's range (JSON allows it; a FHIR decimal's
    exponent may have 9 digits). That result is a data problem; the rest of the page is read -- the severe ANC
    of Nov 24 is the card (the whole answer had been "malformed JSON": no labs, 412)."""
    page = orjson.dumps(bundle(anc(300), anc(420, id="odd", when=ago(days=3)))).replace(
        b'"value":420', b'"value":1e999')
    assert b"1e999" in page
    mocked.add_callback(responses.GET, ANY, callback=_server(DATA, {
        "labs": lambda request: (200, {"Content-Type": "application/fhir+json"}, page)}))
    response = client.post(URL, json=_fallback_request())
    assert response.status_code == 200
    (card,) = assert_cds_response(response.get_json())
    assert card["indicator"] == "critical" and card["summary"] == "Severe neutropenia: ANC 300/uL (Nov 24)"


def test_a_fetched_request_not_to_give_chemotherapy_is_no_dose(client: FlaskClient,
                                                              mocked: responses.RequestsMock) -> None:
    """R7/R8 through the fallback (the answer slimmed to the elements read keeps the modifier): ANC 800, 38.5 °C,
    and carboplatin ordered 5 days ago with `doNotPerform: true` -- not given, so moderate neutropenia with fever
    (a warning), not febrile neutropenia."""
    order = medication("MedicationRequest", "40048", ago(days=5), status="active") | {"doNotPerform": True}
    data = {**DATA, "labs": bundle(anc(800)), "vitals": bundle(temperature("38.5")),
            "MedicationRequest": bundle(order)}
    mocked.add_callback(responses.GET, ANY, callback=_server(data))
    (card,) = assert_cds_response(client.post(URL, json=_fallback_request()).get_json())
    assert card["indicator"] == "warning"
    assert card["extension"]["neutropenia-cds"]["finding"] == "fever-with-neutropenia"
    assert any("MedicationRequest" in call.request.url for call in mocked.calls)


# FHIR R4 search: Bundle.total is the number of matches. A page with no next link that answers fewer resources than
# that was cut short by the server (some cap their answers without paging): what was read is not all there is.
@pytest.mark.parametrize(("total", "partial"), [(2, False), (3, True), (1101, True), (None, False)])
def test_a_search_answering_fewer_than_its_total_with_no_next_page_is_read_as_partial(
        client: FlaskClient, mocked: responses.RequestsMock, total: int | None, partial: bool) -> None:
    given = bundle(medication("MedicationAdministration", "161", ago(days=400)),
                   medication("MedicationAdministration", "161", ago(days=300)))  # acetaminophen, long ago
    if total is not None:
        given["total"] = total
    sent = hook_request(prefetch={key: bundle() for key in (
        "labReports", "medicationRequests", "medicationStatements", "procedures", "conditions", "duffy")} | {
        "patient": patient(), "labs": bundle(anc(800)), "vitals": bundle(temperature(38.6)),
        "medicationAdministrations": given})
    mocked.add_callback(responses.GET, ANY, callback=_server({
        "patient": patient(), "labs": bundle(anc(800)), "vitals": bundle(temperature(38.6)),
        "MedicationAdministration": given}))
    for body in (sent, _fallback_request()):  # as a prefetch Bundle, and as a page the fallback reads
        (card,) = assert_cds_response(client.post(URL, json=body).get_json())
        # fever and ANC 800: with administrations missing, a dose 3-14 days ago cannot be ruled out (R7)
        assert card["extension"]["neutropenia-cds"]["finding"] == "fever-with-neutropenia"
        assert ("**Read only in part**" in card["detail"] and "medication administrations" in card["detail"]
                ) is partial
        assert ("**Chemotherapy not checked**" in card["detail"]) is partial


def test_a_total_counts_only_when_the_last_page_is_read(client: FlaskClient, mocked: responses.RequestsMock) -> None:
    """Bundle.total on a page with a next link is not a cut: the rest is read from the next page."""
    first = bundle(medication("MedicationAdministration", "161", ago(days=400)))
    first["total"] = 2
    first["link"] = [{"relation": "next", "url": MORE}]
    last = bundle(medication("MedicationAdministration", "40048", ago(days=9)))  # carboplatin 9 days ago
    last["total"] = 2
    mocked.add_callback(responses.GET, ANY, callback=_server(
        {"patient": patient(), "labs": bundle(anc(800)), "vitals": bundle(temperature(38.6))},
        {"MedicationAdministration": _paged([first, last])}))
    (card,) = assert_cds_response(client.post(URL, json=_fallback_request()).get_json())
    assert card["extension"]["neutropenia-cds"]["finding"] == "febrile-neutropenia"
    assert "Read only in part" not in card["detail"]


def _strict(data: dict[str, Any]) -> Handler:
    """A server that refuses (400) a search parameter it does not support -- here _sort and _include, as HAPI does by
    default for one it does not know -- and answers the rest."""
    plain = _server(data)

    def handle(request: requests.PreparedRequest) -> tuple[int, dict[str, str], bytes]:
        if {"_sort", "_include"} & set(parse_qs(urlsplit(str(request.url)).query)):
            return 400, {"Content-Type": "application/fhir+json"}, orjson.dumps({
                "resourceType": "OperationOutcome",
                "issue": [{"severity": "error", "code": "not-supported", "diagnostics": "Unknown _sort parameter"}]})
        return plain(request)
    return handle


def test_a_server_that_refuses_sorting_is_asked_once_more_plainly(client: FlaskClient,
                                                                   mocked: responses.RequestsMock) -> None:
    """Carboplatin given 5 days ago, ANC 800 and a fever: febrile neutropenia -- read from a server that refuses the
    _sort and _include of the service's searches. Each is asked once more without them (what orders the answer or
    adds the Medications it names, never what filters it), and the chemotherapy is found."""
    data = {**DATA, "labs": bundle(anc(800)), "vitals": bundle(temperature("38.6", when=ago(hours=1))),
            "MedicationAdministration": bundle(medication("MedicationAdministration", "40048", ago(days=5)))}
    mocked.add_callback(responses.GET, ANY, callback=_strict(data))
    (card,) = assert_cds_response(client.post(URL, json=_fallback_request()).get_json())
    assert card["extension"]["neutropenia-cds"]["finding"] == "febrile-neutropenia"
    assert "Not available to this check" not in card["detail"]
    asked: dict[str, list[set[str]]] = {}
    for call in mocked.calls:
        query = parse_qs(urlsplit(str(call.request.url)).query)
        asked.setdefault(_kind(str(call.request.url)), []).append(set(query))
    refused = [kind for kind, queries in asked.items() if len(queries) == 2]
    assert set(refused) == {"labs", "vitals", "DiagnosticReport", "MedicationRequest", "MedicationAdministration",
                            "MedicationStatement"}  # (those the service sorts): each asked twice, no more
    for kind in refused:
        first, second = asked[kind]
        assert "_sort" in first and first - second <= {"_sort", "_include"} and not second & {"_sort", "_include"}
        assert {"patient", "_count"} <= second
    assert all(len(queries) == 1 for kind, queries in asked.items() if kind not in refused)


def test_a_search_refused_without_sorting_too_is_not_asked_a_third_time(client: FlaskClient,
                                                                          mocked: responses.RequestsMock) -> None:
    mocked.add_callback(responses.GET, ANY, callback=_server(DATA, {"vitals": lambda r: (400, {}, b"")}))
    (card,) = assert_cds_response(client.post(URL, json=_fallback_request()).get_json())
    assert "Not available to this check: temperatures and birth weight." in card["detail"]
    assert sum(1 for c in mocked.calls if _kind(str(c.request.url)) == "vitals") == 2
