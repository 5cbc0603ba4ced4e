"""R9 drug identity, evidence 5: an optional RxNav-style terminology service (GET {terminology_url}/rxcui/{code}/
related.json?tty=IN+MIN+PIN), asked only about RxNorm codes that no other evidence identifies. Its answers are
remembered in the feedback store's database, so a restart does not forget them; each hook call spends at most its
budget on it; a failure is logged and counted, never a failure of the call."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import msgspec
import orjson
import requests

from cds_service.clinical.drugs import needs_terminology
from cds_service.clinical.model import Coding, DraftOrder
from cds_service.feedback.store import FeedbackStore
from cds_service.knowledge import ContextKnowledge
from cds_service.observability import noticed
from cds_service.reading import read_within

log = logging.getLogger(__name__)

MAX_ANSWER_BYTES = 256 * 1024
INGREDIENT_TERM_TYPES = "IN+MIN+PIN"  # ingredient, multiple ingredients, precise ingredient


class TerminologyService:
    """What an RxNav-style service says an RxNorm code contains, within a per-call budget."""

    def __init__(self, base_url: str, store: FeedbackStore, rxnorm: str, budget_seconds: float = 1.0,
                 max_lookups: int = 5, clock: Callable[[], float] = time.monotonic) -> None:
        self.base_url = base_url.rstrip("/")
        self.store = store
        self.rxnorm = rxnorm
        self.budget_seconds = budget_seconds
        self.max_lookups = max_lookups
        self.clock = clock
        self.session = requests.Session()
        self.session.trust_env = False

    def ingredients(self, codes: Sequence[str]) -> dict[str, list[tuple[str, str]]]:
        """code -> [(ingredient code, name)] for each code answered (remembered, or asked now within the budget)."""
        codes = [code for code in dict.fromkeys(codes) if code.isdigit()]  # RxCUIs are digits: nothing else in a URL
        try:
            answers = self.store.terminology_answers(self.rxnorm, codes)
        except Exception:
            log.warning("terminology answers could not be read from the store", exc_info=True)
            answers = {}
        deadline = self.clock() + self.budget_seconds
        for code in [c for c in codes if c not in answers][: self.max_lookups]:
            remaining = deadline - self.clock()
            if remaining <= 0:
                noticed(log, "terminology service: per-call budget spent", logging.WARNING)
                break
            try:
                answers[code] = self._ask(code, remaining)
            except (requests.RequestException, ValueError, msgspec.ValidationError) as exc:
                noticed(log, f"terminology service failed: {type(exc).__name__}", logging.WARNING)
                continue
            noticed(log, "terminology service answered")
            try:
                self.store.remember_terminology_answer(self.rxnorm, code, answers[code], datetime.now(UTC))
            except Exception:
                log.warning("a terminology answer could not be remembered", exc_info=True)
        return answers

    def _ask(self, code: str, timeout: float) -> list[tuple[str, str]]:
        """The ingredients the service names for `code`, read within `timeout` seconds in all: an answer still
        coming then (a server trickling it) is let go, as is one over MAX_ANSWER_BYTES."""
        until = time.monotonic() + timeout
        url = f"{self.base_url}/rxcui/{code}/related.json?tty={INGREDIENT_TERM_TYPES}"
        with self.session.get(url, timeout=(min(timeout, 1.0), timeout), stream=True, allow_redirects=False) as answer:
            if answer.status_code == 404:
                return []
            answer.raise_for_status()
            body = read_within(answer, MAX_ANSWER_BYTES, until)  # (TooSlow, TooLarge: ValueError)
        return _ingredients(msgspec.convert(orjson.loads(body), _Related))


class _Concept(msgspec.Struct):
    rxcui: str
    name: str = ""


class _Group(msgspec.Struct):
    tty: str = ""
    conceptProperties: list[_Concept] = []  # noqa: N815 -- RxNav's own name


class _RelatedGroup(msgspec.Struct):
    conceptGroup: list[_Group] = []  # noqa: N815


class _Related(msgspec.Struct):
    relatedGroup: _RelatedGroup = msgspec.field(default_factory=_RelatedGroup)  # noqa: N815


def _ingredients(answer: _Related) -> list[tuple[str, str]]:
    return [(c.rxcui, c.name) for group in answer.relatedGroup.conceptGroup for c in group.conceptProperties]


def with_terminology(orders: list[DraftOrder], terminology: TerminologyService | None,
                     context: ContextKnowledge) -> list[DraftOrder]:
    """The orders, each that nothing else identifies given the ingredients the terminology service names."""
    if terminology is None:
        return orders
    unknown = [o for o in orders if needs_terminology(o.concept, context)]
    if not unknown:
        return orders
    codes = [c.code for o in unknown for c in o.concept.codings if c.system == context.rxnorm and c.code]
    answers = terminology.ingredients(codes)
    enriched = []
    for order in orders:
        found = [pair for c in order.concept.codings if c.system == context.rxnorm and c.code
                 for pair in answers.get(c.code, [])] if order in unknown else []
        if not found:
            enriched.append(order)
            continue
        concept = msgspec.structs.replace(
            order.concept, related=tuple(Coding(context.rxnorm, code) for code, _ in found),
            related_names=tuple(name for _, name in found if name))
        enriched.append(msgspec.structs.replace(order, concept=concept))
    return enriched


