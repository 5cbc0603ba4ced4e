"""The feedback suite on both stores -- SQLite (the default) and a real PostgreSQL -- including concurrent POSTs
across gunicorn workers and a worker killed with SIGKILL in the middle of a burst."""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import func, select

from cds_service.feedback.model import FeedbackItem
from cds_service.feedback.schema import feedback
from cds_service.feedback.store import FeedbackStore
from tests.feedback_data import EXPECTED_ROWS, SHOWN_AT, load_known_data, post_override
from tests.integration.conftest import running_service

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'feedback.sqlite3'}"
        return
    url: str = request.getfixturevalue("postgres_url")
    store = FeedbackStore(url)
    store.migrate()
    with store.engine.begin() as connection:  # each test starts from empty tables
        connection.exec_driver_sql("TRUNCATE feedback, cards_shown")
    store.close()
    yield url


def _store(url: str) -> FeedbackStore:
    store = FeedbackStore(url)
    store.migrate()
    return store


def test_migration_is_repeatable(database_url: str) -> None:
    store = _store(database_url)
    store.migrate()  # a second start finds the schema current and changes nothing
    assert store.count_feedback() == 0


def test_report_numbers(database_url: str) -> None:
    store = _store(database_url)
    load_known_data(store)
    summary = store.summary()
    assert summary["rows"] == EXPECTED_ROWS and summary["feedbackForUnknownCards"] == 1


def test_idempotent_on_card_outcome_and_time(database_url: str) -> None:
    store = _store(database_url)
    item = FeedbackItem("card-1", "overridden", "2026-11-25T12:00:00Z")
    assert store.store_feedback("neutropenia-patient-view", [item, item], SHOWN_AT)["stored"] == 1
    assert store.store_feedback("neutropenia-patient-view", [item], SHOWN_AT) == {
        "stored": 0, "duplicates": 1, "unknownCards": 1}
    later = FeedbackItem("card-1", "overridden", "2026-11-25T12:05:00Z")
    assert store.store_feedback("neutropenia-patient-view", [later], SHOWN_AT)["stored"] == 1
    assert store.count_feedback() == 2




def _stored_cards(database_url: str) -> dict[str, int]:
    store = FeedbackStore(database_url)
    with store.engine.connect() as connection:
        rows = connection.execute(select(feedback.c.card_uuid, func.count()).group_by(feedback.c.card_uuid)).all()
    store.close()
    return {card: count for card, count in rows}


def _service_env(database_url: str) -> dict[str, str]:
    return {"NEUTROPENIA_CDS_DATABASE_URL": database_url}


def test_concurrent_posts_across_workers_all_land_once(database_url: str) -> None:
    cards = [str(uuid.uuid4()) for _ in range(150)]
    with running_service(_service_env(database_url), workers=3) as (url, _), ThreadPoolExecutor(12) as pool:
        first = list(pool.map(lambda c: post_override(url, c), cards))
        again = list(pool.map(lambda c: post_override(url, c), cards))  # every POST retried: still once each
    assert first == [200] * len(cards) and again == [200] * len(cards)
    assert _stored_cards(database_url) == dict.fromkeys(cards, 1)


def _workers(master: int, expected: int = 0) -> list[int]:
    """gunicorn's worker pids (the master's children); waits up to 20 s for `expected` of them to boot."""
    for _ in range(200):
        children = [int(pid) for pid in Path(f"/proc/{master}/task/{master}/children").read_text().split()]
        if len(children) >= expected:
            return children
        time.sleep(0.1)
    return children


def test_worker_killed_mid_burst_loses_nothing_it_answered(database_url: str) -> None:
    cards = [str(uuid.uuid4()) for _ in range(300)]
    results: dict[str, int] = {}
    with running_service(_service_env(database_url), workers=3) as (url, master), ThreadPoolExecutor(12) as pool:
        victims = _workers(master, expected=3)
        assert len(victims) == 3

        def post(index_card: tuple[int, str]) -> None:
            index, card = index_card
            if index == 60:
                os.kill(victims[0], signal.SIGKILL)  # in the middle of the burst
            results[card] = post_override(url, card)

        list(pool.map(post, enumerate(cards)))
        assert victims[0] not in _workers(master)  # it really died (gunicorn replaced it)
    stored = _stored_cards(database_url)
    answered = [card for card, status in results.items() if status == 200]
    assert len(answered) >= len(cards) - 12  # at most the requests in flight on the killed worker went unanswered
    assert all(stored.get(card) == 1 for card in answered), "a feedback answered 200 is missing"
    assert all(count == 1 for count in stored.values())




def test_one_post_of_many_items_with_repeats_is_stored_once_each_in_batches(database_url: str) -> None:
    store = _store(database_url)
    items = [FeedbackItem(card=f"c{i // 2}", outcome="accepted", outcome_timestamp="2026-11-25T12:00:00+00:00",
                          accepted_suggestions=("s",)) for i in range(1000)]  # each item twice, side by side
    counts = store.store_feedback("neutropenia-patient-view", items, SHOWN_AT)
    assert counts == {"stored": 500, "duplicates": 500, "unknownCards": 1000}
    assert store.count_feedback() == 500
