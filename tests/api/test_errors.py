"""Every error status of the contract, each with a FHIR OperationOutcome body that says what is wrong."""

from __future__ import annotations

import logging
from typing import Any

import orjson
import pytest
from flask.testing import FlaskClient

from cds_service.app import create_app
from cds_service.settings import Settings
from tests.builders import NOW, ago, anc, draft, hook_request, observation, order_request, patient
from tests.contract import assert_cds_response, assert_operation_outcome

URL = "/cds-services/neutropenia-patient-view"


def _post(client: FlaskClient, body: Any) -> Any:
    return client.post(URL, json=body)


def _without(body: dict[str, Any], *path: str) -> dict[str, Any]:
    target = body
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return body


@pytest.mark.parametrize(("body", "text"), [
    ([], "must be a JSON object"),
    ("patient-view", "must be a JSON object"),
    (_without(hook_request(anc(300)), "hook"), "hook is required"),
    ({**hook_request(anc(300)), "hook": "order-sign"}, "answers the 'patient-view' hook, not 'order-sign'"),
    (_without(hook_request(anc(300)), "context"), "context is required"),
    (_without(hook_request(anc(300)), "context", "patientId"), "context.patientId is required"),
    ({**hook_request(anc(300)), "context": {"patientId": "", "userId": "Practitioner/1"}},
     "context.patientId must be a non-empty string"),
])
def test_400_for_a_malformed_request(client: FlaskClient, body: Any, text: str) -> None:
    response = _post(client, body)
    assert response.status_code == 400
    assert response.mimetype == "application/fhir+json"
    assert_operation_outcome(response.get_json(), text)


@pytest.mark.parametrize("hook", ["patient-view", "order-select", "order-sign"])
@pytest.mark.parametrize("odd", [("context", "userId"), ("hookInstance",), 42, {"a": 1}],
                         ids=["no-user", "no-hook-instance", "hook-instance-42", "hook-instance-object"])
def test_a_call_without_what_no_rule_reads_is_answered(client: FlaskClient, hook: str, odd: Any) -> None:
    # CDS Hooks requires userId and hookInstance, but no rule reads them: a call is never refused for either
    # (R5: ANC 300 is severe)
    drafts = [draft("40048", id="carbo")]
    body = hook_request(anc(300)) if hook == "patient-view" else order_request(hook, anc(300), drafts=drafts,
                                                                                 selections=["MedicationRequest/carbo"])
    body = _without(body, *odd) if isinstance(odd, tuple) else {**body, "hookInstance": odd}
    response = client.post(f"/cds-services/neutropenia-{hook}", json=body)
    assert response.status_code == 200
    (card,) = assert_cds_response(response.get_json())
    assert card["indicator"] == "critical" and "ANC 300/uL" in card["summary"]


@pytest.mark.parametrize("fallback", [
    {"fhirServer": "ftp://ehr.example.org"},
    {"fhirServer": 42},
    {"fhirServer": ""},
    {"fhirAuthorization": {"access_token": "t", "token_type": "Bearer"}},  # no fhirServer
    {"fhirServer": "https://ehr.example.org/fhir", "fhirAuthorization": "t"},
    {"fhirServer": "https://ehr.example.org/fhir", "fhirAuthorization": {"token_type": "Bearer"}},
    {"fhirServer": "https://ehr.example.org/fhir", "fhirAuthorization": {"access_token": "t", "token_type": "MAC"}},
])
def test_a_call_is_answered_whatever_its_fallback_elements_say(client: FlaskClient, fallback: dict[str, Any]) -> None:
    # fhirServer and fhirAuthorization are read only to fetch what the prefetch lacks: a call is never refused for
    # them. The optional keys this request leaves out are then not obtainable, and the card says so (R5: ANC 300 is
    # severe).
    response = _post(client, {**hook_request(anc(300)), **fallback})
    assert response.status_code == 200
    (card,) = assert_cds_response(response.get_json())
    assert card["indicator"] == "critical" and "ANC 300/uL" in card["summary"]
    assert "Not available" in card["detail"]


@pytest.mark.parametrize(("prefetch", "text"), [
    ([], "patient, labs (prefetch is not a JSON object; no fhirServer was sent)"),
    ({"patient": patient(), "labs": "Observation?code=751-8"},
     "labs (prefetch 'labs' is not a FHIR resource, a Bundle or null; no fhirServer was sent)"),
    ({"patient": patient(), "labs": [anc(300)]}, "labs (prefetch 'labs' is not a FHIR resource"),
    ({"patient": patient(), "labs": {"resourceType": "Bundle", "entry": {}}},
     "labs (prefetch 'labs' is a Bundle whose entry is not a list; no fhirServer was sent)"),
])
def test_a_prefetch_no_rule_can_read_is_not_obtained_data(client: FlaskClient, prefetch: Any, text: str) -> None:
    # CDS Hooks 2.0: what the prefetch does not give is fetched from fhirServer; with none sent, required data is not
    # obtainable (412), and the answer says which value could not be read
    response = _post(client, {**hook_request(), "prefetch": prefetch})
    assert response.status_code == 412
    assert response.mimetype == "application/fhir+json"
    assert_operation_outcome(response.get_json(), text)


def test_400_for_invalid_json(client: FlaskClient) -> None:
    response = client.post(URL, data=b'{"hook": "patient-view",', content_type="application/json")
    assert response.status_code == 400
    assert_operation_outcome(response.get_json(), "not valid JSON")


@pytest.mark.parametrize("url", [URL, URL + "/feedback"])
def test_a_body_that_begins_with_a_utf8_byte_order_mark_is_read(client: FlaskClient, url: str) -> None:
    """RFC 8259: a parser may ignore a byte order mark, and some clients write one (it was a 400)."""
    body = (hook_request(anc(300)) if url == URL else
            {"feedback": [{"card": "f0a0d9c2-7c36-4b1e-9a53-0e2a3c1d9b10", "outcome": "accepted",
                           "acceptedSuggestions": [{"id": "s-1"}], "outcomeTimestamp": "2026-11-25T12:00:00Z"}]})
    response = client.post(url, data=b"\xef\xbb\xbf" + orjson.dumps(body), content_type="application/json")
    assert response.status_code == 200
    if url == URL:
        (card,) = assert_cds_response(response.get_json())
        assert card["summary"] == "Severe neutropenia: ANC 300/uL (Nov 24)"


def test_400_for_a_body_that_is_not_json(client: FlaskClient) -> None:
    response = client.post(URL, data=b"hook=patient-view", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert_operation_outcome(response.get_json(), "Content-Type must be application/json")


def test_the_endpoints_answer_at_their_url_with_a_trailing_slash(client: FlaskClient) -> None:
    """A discovery URL registered as ".../cds-services/" (it was a 404)."""
    assert client.get("/cds-services/").get_json() == client.get("/cds-services").get_json()
    (card,) = assert_cds_response(client.post(URL + "/", json=hook_request(anc(300))).get_json())
    assert card["summary"] == "Severe neutropenia: ANC 300/uL (Nov 24)"
    feedback = {"feedback": [{"card": card["uuid"], "outcome": "overridden",
                              "outcomeTimestamp": "2026-11-25T12:00:00Z"}]}
    assert client.post(URL + "/feedback/", json=feedback).status_code == 200


def test_404_for_an_unknown_service(client: FlaskClient) -> None:
    response = client.post("/cds-services/no-such-service", json=hook_request(anc(300)))
    assert response.status_code == 404
    assert_operation_outcome(response.get_json(), "no CDS service 'no-such-service'")


def test_404_and_405_elsewhere_are_operation_outcomes(client: FlaskClient) -> None:
    assert_operation_outcome(client.get("/nothing-here").get_json())
    response = client.get(URL)
    assert response.status_code == 405
    assert_operation_outcome(response.get_json())


@pytest.mark.parametrize(("prefetch", "missing"), [
    ({}, "patient, labs"),
    ({"patient": patient()}, "labs"),
    ({"labs": {"resourceType": "Bundle", "entry": []}}, "patient"),
    ({"patient": patient(), "labs": {"resourceType": "OperationOutcome",
                                     "issue": [{"severity": "error", "code": "timeout"}]}}, "labs"),
])
def test_412_when_required_prefetch_is_absent_or_failed(client: FlaskClient, prefetch: dict[str, Any],
                                                        missing: str) -> None:
    response = _post(client, hook_request(prefetch=prefetch))
    assert response.status_code == 412
    diagnostics = assert_operation_outcome(response.get_json(), "required data not in prefetch and not obtainable: ")
    assert diagnostics.split(": ", 1)[1].startswith(missing)


def test_null_prefetch_means_no_data(client: FlaskClient) -> None:
    """CDS Hooks 2.0: null is 'no data' -- no ANC, no card; a null patient means an unknown age."""
    response = _post(client, hook_request(prefetch={"patient": None, "labs": None}))
    assert response.status_code == 200
    assert assert_cds_response(response.get_json()) == []


def test_413_for_a_body_over_the_limit() -> None:
    app = create_app(Settings(max_body_bytes=2000), clock=lambda: NOW)
    body = hook_request(*[anc(2500, id=f"a{i}") for i in range(20)])
    response = app.test_client().post(URL, json=body)
    assert response.status_code == 413
    assert_operation_outcome(response.get_json(), "larger than the service accepts")


@pytest.mark.parametrize("resource", [
    observation("751-8", 300, "kcells", ucum=False),  # unknown unit
    observation("751-8", 30, "%"),  # a % on a count code
    {**anc(300), "status": 12},  # not valid FHIR
    {**anc(300), "valueQuantity": {"value": "three hundred", "unit": "/uL"}},
    anc(300, subject="Patient/someone-else"),  # another patient's result
    {"resourceType": "Observation", "code": {"coding": [{"system": "http://loinc.org", "code": "751-8"}]}},
    {"resourceType": "Banana"},
])
def test_data_problems_never_cause_a_500(client: FlaskClient, resource: dict[str, Any]) -> None:
    response = _post(client, hook_request(resource))
    assert response.status_code == 200, response.get_data(as_text=True)
    cards = assert_cds_response(response.get_json())
    assert all(c["indicator"] == "info" for c in cards)
    assert all(c["extension"]["neutropenia-cds"]["finding"] == "data-problem" for c in cards)


def test_other_patients_result_is_logged_without_phi(client: FlaskClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING"):
        _post(client, hook_request(anc(300, subject="Patient/someone-else")))
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "another patient" in messages
    assert "someone-else" not in messages and "pat-1" not in messages


def test_context_not_sent_is_named_on_the_card(client: FlaskClient) -> None:
    """Optional prefetch keys missing: the card still comes, and says what it could not check."""
    response = _post(client, hook_request(anc(300)))
    (card,) = assert_cds_response(response.get_json())
    assert "Not available to this check: temperatures and birth weight" in card["detail"]
    assert "medication orders" in card["detail"]


def test_context_sent_as_null_is_no_data_not_missing(client: FlaskClient) -> None:
    keys = ("vitals", "labReports", "medicationRequests", "medicationAdministrations", "medicationStatements",
            "procedures", "conditions", "duffy")
    body = hook_request(anc(300))
    body["prefetch"].update(dict.fromkeys(keys))
    (card,) = assert_cds_response(_post(client, body).get_json())
    assert "Not available" not in card["detail"]


@pytest.mark.parametrize(("days", "finding", "summary"), [
    (40, "no-current-anc", "No ANC in the last 7 days; the last one (Oct 16) was severe: 300/uL"),  # second pass
    (91, None, None),  # beyond the look-back: cannot matter
])
def test_results_beyond_the_trend_window_are_read_when_needed(client: FlaskClient, days: int, finding: str | None,
                                                              summary: str | None) -> None:
    body = hook_request(anc(300, when=ago(days=days)), anc(2500, when=ago(days=days + 100), id="older"))
    cards = assert_cds_response(client.post(URL, json=body).get_json())
    assert [c["extension"]["neutropenia-cds"]["finding"] for c in cards] == ([finding] if finding else [])
    assert [c["summary"] for c in cards] == ([summary] if summary else [])


def test_a_current_anc_needs_no_older_results(client: FlaskClient) -> None:
    """With a current ANC, results older than the 30-day trend window cannot change the card."""
    recent = hook_request(anc(420, when=ago(days=1)))
    with_history = hook_request(anc(420, when=ago(days=1)), *[anc(300 + i, when=ago(days=40 + i), id=f"h{i}")
                                                              for i in range(30)])
    first = assert_cds_response(client.post(URL, json=recent).get_json())
    second = assert_cds_response(client.post(URL, json=with_history).get_json())
    assert [c["summary"] for c in first] == [c["summary"] for c in second]
    assert [c["detail"] for c in first] == [c["detail"] for c in second]


HOOK_INSTANCE = "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea"  # hook_request's


def _refusals(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.levelno == logging.WARNING and r.name == "cds_service.http.errors"]


@pytest.mark.parametrize(("body", "status", "reason"), [
    ({**hook_request(anc(300)), "hook": "order-sign"}, 400, "answers the 'patient-view' hook, not 'order-sign'"),
    (_without(hook_request(anc(300)), "context", "patientId"), 400, "context.patientId is required"),
    (hook_request(prefetch={"patient": patient()}), 412, "required data not in prefetch and not obtainable"),
])
def test_every_refusal_reaches_the_operator_at_warning(client: FlaskClient, caplog: pytest.LogCaptureFixture,
                                                       body: dict[str, Any], status: int, reason: str) -> None:
    with caplog.at_level(logging.WARNING):
        assert _post(client, body).status_code == status
    [line] = _refusals(caplog)
    assert line.startswith(f"{status} POST {URL} service=neutropenia-patient-view hookInstance={HOOK_INSTANCE}: ")
    assert reason in line


def test_a_413_reaches_the_operator_with_its_service(caplog: pytest.LogCaptureFixture) -> None:
    app = create_app(Settings(max_body_bytes=2000), clock=lambda: NOW)
    with caplog.at_level(logging.WARNING):
        app.test_client().post(URL, json=hook_request(*[anc(2500, id=f"a{i}") for i in range(20)]))
    [line] = _refusals(caplog)
    assert line.startswith(f"413 POST {URL} service=neutropenia-patient-view hookInstance=-: ")


def test_a_refusal_logs_no_value_and_no_free_text_hook_instance(client: FlaskClient,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    body = {**hook_request(anc(300)), "hook": "order-sign", "hookInstance": "Jane Doe 1980-05-01"}
    with caplog.at_level(logging.WARNING):
        assert _post(client, body).status_code == 400
    [line] = _refusals(caplog)
    assert "hookInstance=-" in line and "Jane" not in line and "300" not in line
