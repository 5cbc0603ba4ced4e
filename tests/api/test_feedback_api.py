"""POST /cds-services/{id}/feedback and GET /feedback/summary through the app, on the default SQLite store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.exc import OperationalError

from cds_service.app import create_app
from cds_service.cli import main
from cds_service.feedback.model import FeedbackItem
from cds_service.feedback.store import FeedbackStore
from cds_service.settings import Settings
from tests.builders import NOW, anc, hook_request
from tests.contract import assert_cds_response, assert_operation_outcome
from tests.feedback_data import EXPECTED_ROWS, SHOWN_AT, card, load_known_data

REASON = {"system": "urn:neutropenia-cds:override-reason", "code": "benefit-outweighs-risk",
          "display": "Benefit outweighs risk"}


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    return create_app(Settings(data_dir=tmp_path), clock=lambda: NOW)


def _shown_card(app: Flask) -> dict[str, Any]:
    response = app.test_client().post("/cds-services/neutropenia-patient-view", json=hook_request(anc(420)))
    (card,) = assert_cds_response(response.get_json())
    return card


def _override(card: str, when: str = "2026-11-25T12:01:00Z") -> dict[str, Any]:
    return {"feedback": [{"card": card, "outcome": "overridden", "outcomeTimestamp": when,
                          "overrideReason": {"reason": REASON, "userComment": "Ada Lovelace said so"}}]}


def test_a_store_that_fails_is_a_503_to_send_again(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """The database failing under the store (here: made to fail): feedback is not acknowledged -- 503, transient,
    so the EHR sends it again -- and the summary is a 503 too (it was a 500)."""
    def fail(*args: object) -> None:
        raise OperationalError("SELECT 1", {}, Exception("the database is down"))

    store = app.extensions["cds_feedback"]
    monkeypatch.setattr(store, "store_feedback", fail)
    monkeypatch.setattr(store, "summary", fail)
    response = app.test_client().post("/cds-services/neutropenia-patient-view/feedback", json=_override("c-1"))
    assert response.status_code == 503 and assert_operation_outcome(response.get_json(), "send it again")
    response = app.test_client().get("/feedback/summary")
    assert response.status_code == 503 and assert_operation_outcome(response.get_json(), "ask again")
    assert response.get_json()["issue"][0]["code"] == "transient"


def test_feedback_on_a_shown_card_is_stored(app: Flask) -> None:
    card = _shown_card(app)
    response = app.test_client().post("/cds-services/neutropenia-patient-view/feedback", json=_override(card["uuid"]))
    assert response.status_code == 200
    assert response.get_json() == {"stored": 1, "duplicates": 0, "unknownCards": 0}
    summary = app.test_client().get("/feedback/summary").get_json()
    (row,) = summary["rows"]
    assert (row["finding"], row["indicator"], row["shown"], row["overridden"]) == ("neutropenia", "critical", 1, 1)
    assert row["topOverrideReasons"] == [{"code": "benefit-outweighs-risk", "display": "Benefit outweighs risk",
                                          "count": 1}]


def test_retried_post_never_duplicates(app: Flask) -> None:
    card = _shown_card(app)
    client = app.test_client()
    for expected in ({"stored": 1, "duplicates": 0}, {"stored": 0, "duplicates": 1}):
        body = client.post("/cds-services/neutropenia-patient-view/feedback", json=_override(card["uuid"])).get_json()
        assert {k: body[k] for k in expected} == expected
    # the same card, outcome and time written another way is the same feedback
    body = client.post("/cds-services/neutropenia-patient-view/feedback",
                       json=_override(card["uuid"], "2026-11-25T13:01:00+01:00")).get_json()
    assert body["duplicates"] == 1
    assert app.extensions["cds_feedback"].count_feedback() == 1


def test_unknown_card_is_stored_and_flagged(app: Flask) -> None:
    response = app.test_client().post("/cds-services/neutropenia-order-sign/feedback", json=_override("no-such"))
    assert response.status_code == 200 and response.get_json()["unknownCards"] == 1
    assert app.test_client().get("/feedback/summary").get_json()["feedbackForUnknownCards"] == 1


def test_user_comment_is_not_kept(app: Flask) -> None:
    card = _shown_card(app)
    app.test_client().post("/cds-services/neutropenia-patient-view/feedback", json=_override(card["uuid"]))
    folder = Path(app.extensions["cds_feedback"].url.removeprefix("sqlite:///")).parent
    files = list(folder.glob("feedback.sqlite3*"))  # the database and its write-ahead log
    assert files and all(b"Lovelace" not in f.read_bytes() for f in files)


@pytest.mark.parametrize(("path", "body", "status", "text"), [
    ("/cds-services/neutropenia-patient-view/feedback", {"feedback": []}, 400, "at least one item"),
    ("/cds-services/neutropenia-patient-view/feedback", {"feedback": [{"card": "c", "outcome": "accepted",
                                                                       "outcomeTimestamp": "2026-11-25T12:00:00Z"}]},
     400, "acceptedSuggestions"),
    ("/cds-services/nope/feedback", _override("c"), 404, "no CDS service 'nope'"),
    ("/cds-services/neutropenia-patient-view/feedback", _override("c", "9999-12-31T23:59:59-14:00"), 400,
     "outcomeTimestamp is out of range"),  # no date holds it in UTC
])
def test_feedback_errors(app: Flask, path: str, body: Any, status: int, text: str) -> None:
    response = app.test_client().post(path, json=body)
    assert response.status_code == status
    assert_operation_outcome(response.get_json(), text)


def test_report_numbers_on_a_known_data_set(app: Flask, capsys: pytest.CaptureFixture[str]) -> None:
    store: FeedbackStore = app.extensions["cds_feedback"]
    load_known_data(store)
    summary = app.test_client().get("/feedback/summary").get_json()
    assert summary["rows"] == EXPECTED_ROWS
    assert summary["feedbackForUnknownCards"] == 1
    later = app.test_client().get("/feedback/summary?since=2026-11-22").get_json()
    assert [(r["finding"], r["indicator"], r["shown"]) for r in later["rows"]] == [("neutropenia", "info", 1)]
    assert app.test_client().get("/feedback/summary?since=soon").status_code == 400


@pytest.mark.parametrize("since", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"])
def test_a_since_that_no_date_holds_in_utc_is_400(app: Flask, since: str) -> None:
    response = app.test_client().get("/feedback/summary", query_string={"since": since})
    assert response.status_code == 400
    assert_operation_outcome(response.get_json(), "since must be an ISO 8601 date or date-time")


def test_feedback_report_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEUTROPENIA_CDS_DATA_DIR", str(tmp_path))
    store = FeedbackStore.for_settings("", tmp_path)
    store.migrate()
    load_known_data(store)
    assert main(["feedback-report", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["rows"] == EXPECTED_ROWS
    assert main(["feedback-report", "--since", "2026-11-01"]) == 0
    text = capsys.readouterr().out
    assert "Benefit outweighs risk (2)" in text and "75.0%" in text and "order-risk" in text
    assert main(["feedback-report", "--since", "Tuesday"]) == 2
    assert main(["feedback-report", "--since", "9999-12-31T23:59:59-14:00"]) == 2


def test_feedback_report_cli_shows_a_low_override_rate_as_more_than_none(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """(2 overrides of 400 cards printed "0%")"""
    monkeypatch.setenv("NEUTROPENIA_CDS_DATA_DIR", str(tmp_path))
    store = FeedbackStore.for_settings("", tmp_path)
    store.migrate()
    store.record_cards("neutropenia-order-sign", "h1", [card(f"c-{i}", "order-risk", "severe", "critical")
                                                        for i in range(400)], SHOWN_AT)
    store.store_feedback("neutropenia-order-sign", [
        FeedbackItem(f"c-{i}", "overridden", "2026-11-20T10:00:00Z", ()) for i in range(2)], SHOWN_AT)
    assert main(["feedback-report"]) == 0
    assert "0.5%" in capsys.readouterr().out


def _many(count: int, repeat_every: int = 0) -> dict[str, Any]:
    """`count` overrides of cards never shown; every `repeat_every`-th repeats the one before it."""
    items = []
    for i in range(count):
        n = i - 1 if repeat_every and i and i % repeat_every == 0 else i
        items.append({"card": f"card-{n}", "outcome": "overridden", "outcomeTimestamp": "2026-11-25T12:01:00Z",
                      "overrideReason": {"reason": REASON}})
    return {"feedback": items}


def test_a_feedback_post_over_the_item_bound_is_413_and_stores_nothing(app: Flask) -> None:
    response = app.test_client().post("/cds-services/neutropenia-patient-view/feedback", json=_many(1001))
    assert response.status_code == 413
    assert_operation_outcome(response.get_json(), "at most 1000 feedback items per request")
    assert app.extensions["cds_feedback"].count_feedback() == 0


def test_a_feedback_post_at_the_bound_is_stored_in_batches_counting_repeats(app: Flask) -> None:
    """1,000 items -- five transactions of 200 -- every tenth a repeat of the one before it (within a batch and
    across a batch's edge alike): each stored once."""
    response = app.test_client().post("/cds-services/neutropenia-patient-view/feedback", json=_many(1000, 10))
    assert response.status_code == 200
    assert response.get_json() == {"stored": 901, "duplicates": 99, "unknownCards": 1000}
    assert app.extensions["cds_feedback"].count_feedback() == 901
