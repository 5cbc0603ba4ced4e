"""R9 drug identity, evidence 5: the optional terminology service (RxNav-style REST), mocked with `responses` --
asked only when nothing else identifies a code, remembered in the store's database, bounded per call, never fatal."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import responses
from prometheus_client import REGISTRY

from cds_service.clinical.model import Coding, DraftOrder, MedicationConcept
from cds_service.feedback.store import FeedbackStore
from cds_service.knowledge import Knowledge
from cds_service.terminology import TerminologyService, with_terminology
from tests.builders import RXNORM

BASE = "http://127.0.0.1:9/REST"


def related(*ingredients: tuple[str, str]) -> dict[str, Any]:
    """An RxNav related.json answer listing these ingredients (IN)."""
    return {"relatedGroup": {"rxcui": "x", "termType": ["IN", "MIN", "PIN"], "conceptGroup": [
        {"tty": "IN", "conceptProperties": [{"rxcui": c, "name": n, "tty": "IN"} for c, n in ingredients]},
        {"tty": "MIN"}]}}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[FeedbackStore]:
    store = FeedbackStore(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    store.migrate()
    yield store
    store.close()


def order(code: str, system: str = RXNORM, name: str | None = None) -> DraftOrder:
    return DraftOrder("MedicationRequest/d1", name or f"code {code}",
                      MedicationConcept(codings=(Coding(system, code),), names=(name,) if name else ()))


@responses.activate
def test_an_unknown_code_is_asked_once_and_remembered_across_restarts(store: FeedbackStore,
                                                                      knowledge: Knowledge) -> None:
    responses.get(f"{BASE}/rxcui/999001/related.json", json=related(("2626", "clozapine")))
    service = TerminologyService(BASE, store, RXNORM)
    [enriched] = with_terminology([order("999001")], service, knowledge.context)
    assert enriched.concept.related == (Coding(RXNORM, "2626"),)
    assert responses.calls[0].request.url == f"{BASE}/rxcui/999001/related.json?tty=IN+MIN+PIN"
    restarted = TerminologyService(BASE, FeedbackStore(store.url), RXNORM)  # a new process, the same database
    assert restarted.ingredients(["999001"]) == {"999001": [("2626", "clozapine")]}
    assert len(responses.calls) == 1


@responses.activate
@pytest.mark.parametrize("drug", [order("104776"), order("55", "urn:oid:1.2", "CLOZAPINE 100 MG PO TABS"),
                                  order("03", "http://hl7.org/fhir/sid/cvx"), order("abc/../x")])
def test_never_asked_about_what_other_evidence_identifies_or_what_is_not_an_rxcui(
        store: FeedbackStore, knowledge: Knowledge, drug: DraftOrder) -> None:
    service = TerminologyService(BASE, store, RXNORM)
    assert with_terminology([drug], service, knowledge.context) == [drug]
    assert len(responses.calls) == 0  # (responses would refuse any request not registered)


@responses.activate
@pytest.mark.parametrize("failure", [
    {"status": 500},
    {"body": requests.ConnectionError("refused")},
    {"body": "not json", "status": 200},
    {"json": {"relatedGroup": {"conceptGroup": [{"conceptProperties": [{"name": "no rxcui"}]}]}}},
])
def test_a_failure_is_counted_and_leaves_the_order_as_it_was(store: FeedbackStore, knowledge: Knowledge,
                                                             failure: dict[str, Any]) -> None:
    responses.get(f"{BASE}/rxcui/999002/related.json", **failure)
    def failures() -> float:
        return sum(sample.value for metric in REGISTRY.collect() if metric.name == "cds_noticed"
                   for sample in metric.samples if sample.name == "cds_noticed_total"
                   and sample.labels["event"].startswith("terminology service failed"))

    before = failures()
    drug = order("999002")
    assert with_terminology([drug], TerminologyService(BASE, store, RXNORM), knowledge.context) == [drug]
    assert failures() == before + 1
    assert store.terminology_answers(RXNORM, ["999002"]) == {}  # a failure is not remembered


@responses.activate
def test_the_per_call_budget_bounds_the_lookups(store: FeedbackStore, knowledge: Knowledge) -> None:
    ticks = iter([0.0, 0.1, 0.6, 1.1, 5.0])  # start, then before each look-up: the third is past the 1 s budget
    for code in ("999003", "999004", "999005"):
        responses.get(f"{BASE}/rxcui/{code}/related.json", json=related())
    service = TerminologyService(BASE, store, RXNORM, budget_seconds=1.0, clock=lambda: next(ticks))
    service.ingredients(["999003", "999004", "999005"])
    assert [c.request.url.split("/")[-2] for c in responses.calls] == ["999003", "999004"]
