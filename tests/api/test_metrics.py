"""GET /metrics (Prometheus text format) and the request id: what a call, a refusal, a card and feedback add to the
series, and the id on the answer and on the log line. Figures are compared before and after, as the series are
process-wide."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from cds_service.observability import configure_logging
from tests.builders import anc, bundle, draft, hook_request, order_request

URL = "/cds-services/neutropenia-patient-view"


def _series(client: FlaskClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    found = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def _delta(before: dict[Any, float], after: dict[Any, float], name: str, **labels: str) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


def test_calls_cards_and_refusals_are_counted(client: FlaskClient) -> None:
    before = _series(client)
    client.post(URL, json=hook_request(anc(420)))
    client.post(URL, json={**hook_request(anc(420)), "hook": "order-sign"})
    without_intent = {k: v for k, v in draft("999999").items() if k != "intent"}  # an RxNorm code on no list
    client.post("/cds-services/neutropenia-order-sign", json=order_request("order-sign", anc(420),
                                                                           drafts=[without_intent]))
    after = _series(client)
    assert _delta(before, after, "cds_calls_total", service="neutropenia-patient-view", status="200") == 1
    assert _delta(before, after, "cds_calls_total", service="neutropenia-patient-view", status="400") == 1
    assert _delta(before, after, "cds_call_seconds_count", service="neutropenia-patient-view") == 2
    assert _delta(before, after, "cds_cards_total", indicator="critical", finding="neutropenia") == 1
    assert _delta(before, after, "cds_noticed_total", event="unrecognised medication in a draft order") == 1
    assert _delta(before, after, "cds_noticed_total", event="draft MedicationRequest read despite: no intent") == 1


def test_a_draft_whose_drug_cannot_be_named_is_counted_as_unrecognised(client: FlaskClient) -> None:
    """R9: a draft naming its drug only by a Medication the draftOrders Bundle does not carry (no display) is an
    unrecognised medication -- counted, never flagged -- not a draft with no medication yet, which is not counted."""
    not_sent = {k: v for k, v in draft("0").items() if k != "medicationCodeableConcept"}
    not_sent["medicationReference"] = {"reference": "Medication/not-sent"}
    no_drug_yet = {k: v for k, v in draft("0").items() if k != "medicationCodeableConcept"}
    before = _series(client)
    for order in (not_sent, no_drug_yet):
        response = client.post("/cds-services/neutropenia-order-sign",
                                json=order_request("order-sign", anc(420), drafts=[order]))
        assert response.status_code == 200 and response.get_json() == {"cards": []}
    after = _series(client)
    assert _delta(before, after, "cds_noticed_total", event="unrecognised medication in a draft order") == 1


def test_feedback_and_fhir_fallback_are_counted(client: FlaskClient) -> None:
    before = _series(client)
    feedback = {"feedback": [{"card": "never-shown", "outcome": "overridden",
                              "outcomeTimestamp": "2026-11-25T12:01:00Z",
                              "overrideReason": {"reason": {"code": "benefit-outweighs-risk"}}}]}
    client.post(f"{URL}/feedback", json=feedback)
    client.post(f"{URL}/feedback", json=feedback)
    body = hook_request(prefetch={"patient": None, "labs": bundle()})
    body["fhirServer"] = "http://127.0.0.1:1/fhir"  # allowlisted in dev, nothing listens: every search fails
    client.post(URL, json=body)
    after = _series(client)
    assert _delta(before, after, "cds_feedback_items_total", result="stored") == 1
    assert _delta(before, after, "cds_feedback_items_total", result="duplicate") == 1
    assert _delta(before, after, "cds_fhir_fallback_seconds_count") == 1
    assert _delta(before, after, "cds_fhir_fallback_searches_total", outcome="error") == 8  # the 8 optional keys


def test_every_answer_carries_a_request_id_and_a_sent_one_is_kept(client: FlaskClient) -> None:
    own = client.post(URL, json=hook_request(anc(420)), headers={"X-Request-Id": "ehr-call-42"})
    assert own.headers["X-Request-Id"] == "ehr-call-42"
    made = client.post(URL, json=hook_request(anc(420)), headers={"X-Request-Id": "not an id; <script>"})
    assert made.headers["X-Request-Id"] not in ("", "not an id; <script>") and len(made.headers["X-Request-Id"]) == 16


@pytest.fixture(params=["plain", "json"])
def logged(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, io.StringIO]]:
    """The service's own log configured in each format (plain, json), and the stream it writes (as stderr)."""
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    configure_logging("WARNING", request.param)
    try:
        yield request.param, stream
    finally:
        root.handlers[:], root.level = handlers, level


def test_log_lines_carry_the_request_id(client: FlaskClient, logged: tuple[str, io.StringIO]) -> None:
    log_format, stream = logged
    client.post(URL, json={**hook_request(anc(420)), "hook": "order-sign"}, headers={"X-Request-Id": "rid-7"})
    line = next(x for x in stream.getvalue().splitlines() if "400 POST" in x)
    if log_format == "json":
        record = orjson.loads(line)
        assert record["requestId"] == "rid-7" and record["level"] == "WARNING"
        assert record["message"].startswith(f"400 POST {URL}")
    else:
        assert " WARNING [" in line and " rid-7 cds_service.http.errors: 400 POST" in line


def test_a_client_cannot_forge_a_log_line(client: FlaskClient, logged: tuple[str, io.StringIO]) -> None:
    # a percent-encoded newline in the path of an unauthenticated call, and one in a hookInstance, stay in their line
    other = {**anc(300, id="elsewhere"), "subject": {"reference": "Patient/someone-else"}}
    body = {**hook_request(anc(420), other), "hookInstance": "h-1\n2026-11-25 ERROR forged"}
    client.post("/cds-services/x%0D%0A2026-11-25%20ERROR%20forged", json=hook_request(anc(420)))
    assert client.post(URL, json=body).status_code == 200  # (logs the results filed for another patient)
    lines = logged[1].getvalue().splitlines()
    assert len(lines) == 2 and not any(line.startswith("2026-11-25 ERROR") for line in lines)
    assert all("forged" in line for line in lines)

