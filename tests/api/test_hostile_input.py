"""Hostile and broken input: every case a 4xx with an OperationOutcome, never a 5xx; CORS; clean logs."""

from __future__ import annotations

import logging
from typing import Any

import orjson
import pytest
from flask.testing import FlaskClient

from cds_service.app import create_app
from cds_service.settings import Settings, TrustedIssuer
from tests.builders import CVX, NOW, anc, bundle, draft, hook_request, medication, order_request, patient, temperature
from tests.contract import assert_cds_response, assert_operation_outcome

URL = "/cds-services/neutropenia-patient-view"


@pytest.mark.parametrize(("body", "content_type", "text"), [
    (b"[" * 5000 + b"]" * 5000, "application/json", "not valid JSON"),  # deeply nested
    (b'{"hook": NaN}', "application/json", "not valid JSON"),
    (b'{"hook": "patient-view", "prefetch": {"labs": {"resourceType": "Bundle", "entry": [{"resource": {"code": '
     + b"[" * 5000 + b"]" * 5000 + b"}}]}}}", "application/json", "not valid JSON"),  # deeply nested in a resource
    (b'{"hook": "patient-view", "context": ' + b"[" * 5000 + b"]" * 5000 + b"}", "application/json",
     "not valid JSON"),
    (b'{"hook": Infinity}', "application/json", "not valid JSON"),
    (b'{"hook": "patient-view\xff\xfe"}', "application/json", "not valid JSON"),  # not UTF-8
    (b'{"hook": "patient-view"', "application/json", "not valid JSON"),
    (b"", "application/json", "not valid JSON"),
    (b'{"hook": "patient-view"}', "text/plain", "Content-Type must be application/json"),
    (b'{"hook": "patient-view"}', "", "Content-Type must be application/json"),
])
def test_malformed_bodies_are_400(client: FlaskClient, body: bytes, content_type: str, text: str) -> None:
    response = client.post(URL, data=body, headers={"Content-Type": content_type} if content_type else {})
    assert response.status_code == 400
    assert_operation_outcome(response.get_json(), text)


@pytest.mark.parametrize(("change", "status"), [
    ({"hook": ["patient-view"]}, 400),
    ({"context": "pat-1"}, 400),
    ({"context": {"patientId": 12, "userId": "Practitioner/1"}}, 400),
    ({"prefetch": {"patient": 7, "labs": None}}, 412),  # not FHIR: the patient is not obtained (no fhirServer)
    ({"fhirServer": 42}, 200),  # read only to fetch what the prefetch lacks: never a reason to refuse a call
    ({"fhirAuthorization": "token"}, 200),
])
def test_wrong_types(client: FlaskClient, change: dict[str, Any], status: int) -> None:
    response = client.post(URL, json={**hook_request(anc(420)), **change})
    assert response.status_code == status
    if status == 200:
        (card,) = assert_cds_response(response.get_json())
        assert "ANC 420/uL" in card["summary"]
    else:
        assert_operation_outcome(response.get_json())


@pytest.mark.parametrize("value", [b"1e999", b"-1e999", b'"NaN"', b'"Infinity"', b'"420"x'[:5]])
def test_a_value_that_is_no_usable_number_in_a_result_is_a_data_problem(client: FlaskClient, value: bytes) -> None:
    """R10: a result whose value is past a double's range, or not a number, is never classified -- an info card
    says it could not be read."""
    body = orjson.dumps(hook_request(anc(420))).replace(b'"value":420', b'"value":' + value)
    assert value in body
    response = client.post(URL, data=body, content_type="application/json")
    (card,) = assert_cds_response(response.get_json())
    assert card["extension"]["neutropenia-cds"]["finding"] == "data-problem"


def test_a_number_past_double_in_one_result_of_a_large_request_leaves_the_others_read(client: FlaskClient) -> None:
    # many results: each read as received, one by one, while the record is built
    results = [anc(1000 + i, id=f"r{i}", when=f"2026-11-{1 + i % 24:02d}T08:00:00Z") for i in range(400)]
    body = orjson.dumps(hook_request(*results)).replace(b'"value":1399', b'"value":1e999')
    assert b"1e999" in body
    response = client.post(URL, data=body, content_type="application/json")
    assert response.status_code == 200
    # the newest collection (Nov 24: 1,023, 1,047 ... 1,383) is read, its lowest reported ANC used (R4)
    (card,) = assert_cds_response(response.get_json())
    assert card["summary"] == "Mild neutropenia: ANC 1,023/uL (Nov 24)"


@pytest.mark.parametrize("kind", [["Observation"], {"name": "Observation"}, 7, None, True])
def test_an_entry_whose_resource_type_is_no_string_is_let_go_like_one_without_it(client: FlaskClient,
                                                                                 kind: Any) -> None:
    # no type a rule reads: skipped as an entry without a resourceType is, and the rest read (it was a 500)
    odd = {**anc(1200, id="odd"), "resourceType": kind}
    conditions = bundle({"resourceType": kind, "id": "c1", "code": {"text": "neutropenia"}})
    body = hook_request(anc(420), odd)
    body["prefetch"]["conditions"] = conditions
    response = client.post(URL, json=body)
    assert response.status_code == 200
    (card,) = assert_cds_response(response.get_json())
    assert card["summary"] == client.post(URL, json=hook_request(anc(420))).get_json()["cards"][0]["summary"]
    assert card["summary"].startswith("Severe neutropenia: ANC 420/uL")


@pytest.mark.parametrize("escape", [rb"\ud83d", rb"\uDE00", rb"a\ud83d\ud83d"], ids=["high", "low", "two-highs"])
def test_half_an_emoji_in_an_element_no_rule_reads_is_read_as_a_replacement_character(client: FlaskClient,
                                                                                     escape: bytes) -> None:
    # a JavaScript client cutting a name in the middle of an emoji sends a lone surrogate escape: grammatical JSON
    # that orjson refuses; the call is answered as ever, the broken character read as U+FFFD
    named = {**patient(), "name": [{"text": "PLACEHOLDER"}]}
    noted = {**anc(1200, id="noted", when="2026-10-01T08:00:00Z"), "note": [{"text": "PLACEHOLDER"}]}
    body = orjson.dumps(hook_request(anc(420), noted, patient_resource=named)).replace(b"PLACEHOLDER", escape)
    response = client.post(URL, data=body, content_type="application/json")
    assert response.status_code == 200
    (card,) = assert_cds_response(response.get_json())
    assert card["summary"].startswith("Severe neutropenia: ANC 420/uL")


def test_feedback_with_half_an_emoji_in_the_user_comment_is_stored(client: FlaskClient) -> None:
    feedback = {"feedback": [{"card": "c", "outcome": "overridden", "outcomeTimestamp": "2026-11-25T12:00:00Z",
                              "overrideReason": {"userComment": "PLACEHOLDER"}}]}
    body = orjson.dumps(feedback).replace(b"PLACEHOLDER", rb"fine \ud83d")
    response = client.post(URL + "/feedback", data=body, content_type="application/json")
    assert response.status_code == 200 and response.get_json()["stored"] == 1


def test_huge_numbers_in_the_record_do_not_break_anything(client: FlaskClient) -> None:
    body = hook_request(anc(10**300), anc(-(10**300), id="neg"), anc(1e-300, id="tiny"))
    assert client.post(URL, json=body).status_code == 200


@pytest.mark.parametrize("value", [10**30, 1e300, 2**63])
def test_a_card_carries_a_count_past_a_64_bit_integer_as_a_json_number(client: FlaskClient, value: float) -> None:
    # a live vaccine within 90 days of chemotherapy is flagged whatever the ANC (R9): its card states the count
    # (orjson writes no integer past 64 bits: that card was a 500)
    chemotherapy = medication("MedicationAdministration", "40048", "2026-11-01T09:00:00Z")
    body = order_request("order-sign", anc(value), drafts=[draft("21", CVX, id="varicella")],
                         context_resources={"medicationAdministrations": [chemotherapy]})
    response = client.post("/cds-services/neutropenia-order-sign", json=body)
    assert response.status_code == 200
    (card,) = assert_cds_response(response.get_json())
    assert card["extension"]["neutropenia-cds"]["ancPerUL"] == float(value)


@pytest.mark.parametrize("value", [1e300, 10**40, 1e-300])
def test_a_temperature_of_any_size_leaves_the_severe_card(client: FlaskClient, value: float) -> None:
    # (1e300 C made the card's text an exact-decimal error: a 500, and no card at all for an ANC of 420)
    response = client.post(URL, json=hook_request(anc(420), temperature(value)))
    assert response.status_code == 200
    cards = assert_cds_response(response.get_json())
    assert any("ANC 420/uL" in card["summary"] and card["indicator"] == "critical" for card in cards)


@pytest.mark.parametrize("when", ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00"])
def test_times_at_the_ends_of_the_calendar_do_not_break_anything(client: FlaskClient, when: str) -> None:
    body = hook_request(anc(420, when=when, issued=when))
    assert client.post(URL, json=body).status_code == 200


@pytest.mark.parametrize("born", ["0001-01-01", "9999-12-31"])
def test_an_hour_of_birth_at_the_ends_of_the_calendar_does_not_break_anything(client: FlaskClient, born: str) -> None:
    # (the bounds of "on the day of birthDate" were worked out past the calendar's ends: a 500)
    extension = {"url": "http://hl7.org/fhir/StructureDefinition/patient-birthTime",
                 "valueDateTime": f"{born}T05:00:00Z"}
    body = hook_request(anc(420), patient_resource={**patient(born), "_birthDate": {"extension": [extension]}})
    (card,) = assert_cds_response(client.post(URL, json=body).get_json())
    assert card["summary"].startswith("Severe neutropenia: ANC 420/uL")


def test_cors_preflight_needs_no_token_and_allows_the_headers() -> None:
    app = create_app(Settings(profile="production", public_base_url="https://cds.example",
                              cors_origins=("https://ehr.example",), fhir_server_allowlist=("https://f.example",),
                              trusted_issuers=(TrustedIssuer(iss="https://ehr.example",
                                                             jwks_url="https://ehr.example/jwks.json"),)),
                     clock=lambda: NOW)
    preflight = {"Origin": "https://ehr.example", "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization, content-type"}
    response = app.test_client().options(URL, headers=preflight)
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "https://ehr.example"
    allowed = response.headers["Access-Control-Allow-Headers"].lower()
    assert "authorization" in allowed and "content-type" in allowed
    evil = app.test_client().options(URL, headers={**preflight, "Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in evil.headers


@pytest.mark.parametrize("origin", ["http://localhost:3000", "http://127.0.0.1:8000", "https://sandbox.cds-hooks.org"])
def test_dev_cors_allows_localhost_and_the_sandbox(client: FlaskClient, origin: str) -> None:
    response = client.options(URL, headers={"Origin": origin, "Access-Control-Request-Method": "POST"})
    assert response.headers.get("Access-Control-Allow-Origin") == origin
    other = client.options(URL, headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert "Access-Control-Allow-Origin" not in other.headers


def test_a_browser_hook_call_gets_cors_headers_and_a_server_call_none(client: FlaskClient) -> None:
    body = hook_request(anc(420))
    from_browser = client.post(URL, json=body, headers={"Origin": "http://localhost:3000"})
    assert from_browser.status_code == 200
    assert from_browser.headers.get("Access-Control-Allow-Origin") == "http://localhost:3000"
    from_server = client.post(URL, json=body)
    assert from_server.status_code == 200
    def without_uuids(answer: dict[str, Any]) -> list[dict[str, Any]]:
        return [{k: v for k, v in card.items() if k != "uuid"} for card in answer["cards"]]

    assert without_uuids(from_server.get_json()) == without_uuids(from_browser.get_json())
    assert not any(name.lower().startswith("access-control-") for name, _ in from_server.headers.items())


def test_logs_carry_no_phi_and_no_token(client: FlaskClient, caplog: pytest.LogCaptureFixture) -> None:
    person = {**patient("1961-07-04"), "name": [{"family": "Lovelace", "given": ["Ada"]}]}
    body = hook_request(anc(420, subject="Patient/someone-else"), anc(431.5), temperature("39.7"),
                        patient_resource=person)
    body["prefetch"]["vitals"] = bundle(temperature("39.7"))
    body["fhirServer"] = "https://not-allowed.example/fhir"
    body["fhirAuthorization"] = {"access_token": "tok-SECRET-987", "token_type": "Bearer"}
    del body["prefetch"]["labs"]  # force the (refused) fallback
    with caplog.at_level(logging.DEBUG):
        client.post(URL, json=body)
        body["prefetch"]["labs"] = bundle(anc(420, subject="Patient/someone-else"), anc(431.5))
        client.post(URL, json=body)
        client.get("/cds-services", headers={"Authorization": "Bearer eyJhbGciOiJub25lIn0.e30."})
    text = caplog.text
    assert caplog.records  # something was logged, so the check means something
    for secret in ("tok-SECRET-987", "Lovelace", "Ada", "1961-07-04", "pat-1", "someone-else", "431", "39.7",
                   "eyJhbGciOiJub25lIn0"):
        assert secret not in text, f"{secret!r} reached the log"


PRIVATE_NETWORK_PREFLIGHT = {"Origin": "https://sandbox.cds-hooks.org", "Access-Control-Request-Method": "POST",
                             "Access-Control-Request-Headers": "authorization, content-type",
                             "Access-Control-Request-Private-Network": "true"}


def test_dev_answers_chromiums_private_network_preflight_for_the_public_sandbox(client: FlaskClient) -> None:
    """The public Sandbox (https) calling the service on localhost: Chromium asks first, and must be told yes."""
    response = client.options(URL, headers=PRIVATE_NETWORK_PREFLIGHT)
    assert response.headers.get("Access-Control-Allow-Origin") == "https://sandbox.cds-hooks.org"
    assert response.headers.get("Access-Control-Allow-Private-Network") == "true"


def test_production_does_not_open_the_private_network_unless_configured() -> None:
    def app(**settings: object) -> Any:
        return create_app(Settings(profile="production", public_base_url="https://cds.example",
                                   cors_origins=("https://sandbox.cds-hooks.org",),
                                   fhir_server_allowlist=("https://f.example",),
                                   trusted_issuers=(TrustedIssuer(iss="https://ehr.example",
                                                                  jwks_url="https://ehr.example/jwks.json"),),
                                   **settings), clock=lambda: NOW)  # type: ignore[arg-type]
    closed = app().test_client().options(URL, headers=PRIVATE_NETWORK_PREFLIGHT)
    assert closed.headers.get("Access-Control-Allow-Private-Network") != "true"
    opened = app(cors_private_network=True).test_client().options(URL, headers=PRIVATE_NETWORK_PREFLIGHT)
    assert opened.headers.get("Access-Control-Allow-Private-Network") == "true"


@pytest.mark.parametrize("origin", ["http://localhost.evil.example", "http://127.0.0.1.evil.example:80",
                                    "http://localhost:3000.evil.example", "https://sandbox.cds-hooks.org.evil.example",
                                    "xhttp://localhost:3000"])
def test_origin_patterns_match_whole_origins_never_prefixes(client: FlaskClient, origin: str) -> None:
    response = client.options(URL, headers={"Origin": origin, "Access-Control-Request-Method": "POST"})
    assert "Access-Control-Allow-Origin" not in response.headers


@pytest.mark.parametrize(("method", "path", "body"), [
    ("GET", "/cds-services", None),
    ("POST", URL, {"hook": "wrong"}),  # an error response
    ("GET", "/no-such-path", None),
    ("POST", URL, None),  # a hook call: a server, not a browser
])
def test_no_cors_headers_without_an_origin(client: FlaskClient, method: str, path: str, body: Any) -> None:
    response = client.open(path, method=method, json=body if body is not None else hook_request(anc(420)))
    assert not [name for name, _ in response.headers.items() if name.lower().startswith("access-control-")]
