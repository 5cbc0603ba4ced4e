"""The validated-facts cache and the card recorder: faster, and never different."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cds_service.feedback.recorder import CardRecorder
from cds_service.feedback.store import FeedbackStore
from cds_service.fhir.validated import ValidatedCache
from tests.feedback_data import card


def test_identical_content_is_validated_once() -> None:
    calls: list[dict[str, Any]] = []

    def make(resource: dict[str, Any]) -> str:
        calls.append(resource)
        return f"facts of {resource['id']}"

    cache = ValidatedCache(max_entries=10)
    first = {"id": "a", "valueQuantity": {"value": 1}}
    same = {"valueQuantity": {"value": 1}, "id": "a"}  # same content, other key order
    changed = {"id": "a", "valueQuantity": {"value": 2}}  # same id, other content: never served from the cache
    assert cache.get("obs", first, make) == cache.get("obs", same, make) == "facts of a"
    assert cache.get("obs", changed, make) == "facts of a"
    assert len(calls) == 2
    assert cache.get("other-kind", first, make) and len(calls) == 3


def test_a_validation_error_is_remembered_and_raised_again() -> None:
    def make(resource: dict[str, Any]) -> str:
        raise ValueError("invalid")

    cache = ValidatedCache()
    for _ in range(2):
        with pytest.raises(ValueError, match="invalid"):
            cache.get("obs", {"id": "x"}, make)


def test_the_cache_is_bounded() -> None:
    cache = ValidatedCache(max_entries=3)
    for i in range(10):
        cache.get("obs", {"id": str(i)}, lambda r: r["id"])
    assert len(cache._entries) == 3


def test_recorder_writes_in_the_background_and_flushes(tmp_path: Path) -> None:
    store = FeedbackStore(f"sqlite:///{tmp_path / 'f.sqlite3'}")
    store.migrate()
    recorder = CardRecorder(store, interval=60)  # only a flush or a full batch writes
    shown = datetime(2026, 11, 25, tzinfo=UTC)
    for i in range(5):
        recorder.record("neutropenia-patient-view", f"h{i}", [card(f"c{i}", "neutropenia", "severe", "critical")],
                        shown)
    recorder.flush()
    (row,) = store.summary()["rows"]
    assert row["shown"] == 5


def test_recorder_gathers_a_steady_stream_into_one_write_per_interval(tmp_path: Path) -> None:
    writes: list[int] = []

    class CountingStore(FeedbackStore):
        def record_many(self, batches: Any) -> None:
            batches = list(batches)
            writes.append(len(batches))
            super().record_many(batches)

    store = CountingStore(f"sqlite:///{tmp_path / 'f.sqlite3'}")
    store.migrate()
    recorder = CardRecorder(store, interval=2.0)
    shown = datetime(2026, 11, 25, tzinfo=UTC)
    for i in range(20):  # a busy worker: a record every few milliseconds, each waking the writer
        recorder.record("neutropenia-patient-view", f"h{i}", [card(f"c{i}", "neutropenia", "severe", "critical")],
                        shown)
        time.sleep(0.005)
    assert writes == []  # still gathering: nothing written per call
    recorder.flush()
    assert writes == [20]
    assert store.summary()["rows"][0]["shown"] == 20
