"""The validated-facts cache and the card recorder: faster, and never different."""

from __future__ import annotations

import functools
import time
import tomllib
import traceback
from datetime import UTC, datetime, timedelta
from itertools import chain
from pathlib import Path
from typing import Any

import orjson
import pytest
from flask import Flask

from cds_service.app import create_app
from cds_service.feedback.recorder import CardRecorder
from cds_service.feedback.store import FeedbackStore
from cds_service.fhir.records import Horizon, build_record
from cds_service.fhir.validated import ValidatedCache
from cds_service.fhir.wire import as_received, decode_hook_body
from cds_service.knowledge import load_knowledge
from cds_service.settings import Settings
from tests.builders import NOW, ago, anc, hook_request
from tests.feedback_data import card

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
SCENARIOS = [(hook, s["name"], s["now"]) for hook in ("patient-view", "order-select", "order-sign")
             for s in tomllib.loads((FIXTURES / hook / "scenarios.toml").read_text())["scenario"]]


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


def test_a_resource_as_received_is_read_once_per_exact_bytes() -> None:
    calls: list[bytes] = []

    def make(data: bytes) -> str | None:
        calls.append(data)
        return None if b"other" in data else f"read {len(data)} bytes"

    cache = ValidatedCache(max_entries=10)
    sent, spaced = b'{"id":"a","status":"final"}', b'{"id": "a", "status": "final"}'
    assert cache.get_received(sent, make) == cache.get_received(sent, make) == f"read {len(sent)} bytes"
    assert cache.get_received(spaced, make) == f"read {len(spaced)} bytes"  # same content, other bytes: read again
    assert cache.get_received(b'{"other":1}', make) is None
    assert cache.get_received(b'{"other":1}', make) is None  # "nothing to read" is remembered too
    assert calls == [sent, spaced, b'{"other":1}']


def test_the_look_up_of_results_as_received_finds_only_what_was_read_without_error() -> None:
    calls: list[bytes] = []

    def make(data: bytes) -> str:
        calls.append(data)
        if data.startswith(b"bad"):
            raise ValueError("not a resource")
        return data.decode()

    cache = ValidatedCache(max_entries=10)
    received, unread = cache.received(), object()
    assert received(b"good", unread) is unread  # not read yet
    assert cache.get_received(b"good", make) == "good"
    assert received(b"good", unread) == "good"  # read: found without calling get_received
    for _ in range(2):
        with pytest.raises(ValueError, match="not a resource"):
            cache.get_received(b"bad one", make)
        assert received(b"bad one", unread) is unread  # a reading that raised is never served as a result
    assert calls == [b"good", b"bad one"]  # each read once: the error is remembered, and raised again
    assert cache._bytes == len(b"good") + len(b"bad one")  # both held within the byte bound


def test_without_a_cache_nothing_is_remembered() -> None:
    calls: list[bytes] = []
    cache = ValidatedCache(max_entries=0)
    for _ in range(2):
        assert cache.get_received(b"x", lambda data: calls.append(data) or "read") == "read"
    assert cache.received()(b"x", None) is None and calls == [b"x", b"x"]


def test_the_bytes_the_keys_hold_are_bounded() -> None:
    cache = ValidatedCache(max_entries=100, max_bytes=250)
    for i in range(10):
        cache.get_received(b"%03d" % i + b" " * 97, len)  # 100 bytes each
    assert len(cache._entries) == 2 and cache._bytes == 200
    assert [key[:3] for key in cache._entries] == [b"008", b"009"]  # the entries kept longest went first


def test_an_error_raised_again_from_the_cache_does_not_grow() -> None:
    def make(data: bytes) -> str:
        raise ValueError("invalid")

    cache = ValidatedCache()
    depths = []
    for _ in range(3):
        with pytest.raises(ValueError, match="invalid") as raised:
            cache.get_received(b"{}", make)
        depths.append(len(traceback.extract_tb(raised.value.__traceback__)))
    assert depths[0] == depths[1] == depths[2]


def _without_uuids(cards: list[dict[str, Any]]) -> list[dict[str, Any]]:
    text = orjson.dumps(cards).decode()
    for item in chain.from_iterable([c, *c.get("suggestions", [])] for c in cards):
        text = text.replace(item["uuid"], "uuid")
    loaded: list[dict[str, Any]] = orjson.loads(text)
    return loaded


@functools.cache
def _app(now: datetime, cache: bool) -> Flask:
    return create_app(Settings(validated_cache_entries=20_000 if cache else 0), clock=lambda: now)


@pytest.mark.parametrize(("hook", "name", "now"), SCENARIOS, ids=[f"{h}/{n}" for h, n, _ in SCENARIOS])
def test_every_scenario_answers_the_same_from_the_cache_and_without_it(hook: str, name: str, now: datetime) -> None:
    body = (FIXTURES / hook / f"{name}.request.json").read_bytes()
    url = f"/cds-services/neutropenia-{hook}"
    cached, uncached = _app(now, cache=True).test_client(), _app(now, cache=False).test_client()
    answers = [client.post(url, data=body, content_type="application/json").get_json()["cards"]
               for client in (cached, cached, uncached)]  # the second answer is read from the cache
    assert _without_uuids(answers[0]) == _without_uuids(answers[1]) == _without_uuids(answers[2])


@pytest.mark.parametrize(("hook", "name", "now"), SCENARIOS, ids=[f"{h}/{n}" for h, n, _ in SCENARIOS])
def test_a_bundle_read_as_received_makes_the_record_its_decoded_resources_make(
        hook: str, name: str, now: datetime) -> None:
    knowledge = load_knowledge()
    request = decode_hook_body((FIXTURES / hook / f"{name}.request.json").read_bytes())
    patient_id = request["context"]["patientId"]
    values = [v for k, v in request["prefetch"].items() if k != "patient" and v is not None]
    bundles = [v["entry"] if v.get("resourceType") == "Bundle" else (v,) for v in values]
    horizon = Horizon(now - timedelta(days=31), now - timedelta(days=2))
    cache = ValidatedCache()
    as_dicts = build_record(patient_id, None, chain.from_iterable(bundles), knowledge, horizon=horizon)
    for _ in range(2):  # read, then read from the cache
        as_sent = build_record(patient_id, None, chain.from_iterable(as_received(b) for b in bundles), knowledge,
                               horizon=horizon, cache=cache)
        assert as_sent == as_dicts


def test_nothing_that_depends_on_the_time_of_the_call_is_remembered() -> None:
    """R6: the same body a week later -- its result is no longer current, though read from the cache."""
    clock = [NOW]
    client = create_app(Settings(), clock=lambda: clock[0]).test_client()
    body = orjson.dumps(hook_request(anc(300, when=ago(days=1))))
    url = "/cds-services/neutropenia-patient-view"
    findings = []
    for moved in (timedelta(0), timedelta(days=7), timedelta(0)):
        clock[0] = NOW + moved
        (shown,) = client.post(url, data=body, content_type="application/json").get_json()["cards"]
        findings.append(shown["extension"]["neutropenia-cds"]["finding"])
    assert findings == ["neutropenia", "no-current-anc", "neutropenia"]


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
