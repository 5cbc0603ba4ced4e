"""A known feedback data set: cards shown and the feedback on them, with the report it must produce."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import requests

from cds_service.feedback.model import FeedbackItem
from cds_service.feedback.store import FeedbackStore

SHOWN_AT = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
LATER = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def card(uuid: str, finding: str, severity: str | None, indicator: str) -> dict[str, Any]:
    return {"uuid": uuid, "indicator": indicator,
            "extension": {"neutropenia-cds": {"finding": finding, "severity": severity}}}


def load_known_data(store: FeedbackStore) -> None:
    """4 severe neutropenia cards (critical), 2 live-vaccine order cards (critical), 1 mild card on a later day."""
    store.record_cards("neutropenia-patient-view", "h1", [card(f"sev-{i}", "neutropenia", "severe", "critical")
                                                          for i in range(4)], SHOWN_AT)
    store.record_cards("neutropenia-order-sign", "h2", [card(f"ord-{i}", "order-risk", "severe", "critical")
                                                        for i in range(2)], SHOWN_AT)
    store.record_cards("neutropenia-patient-view", "h3", [card("mild-0", "neutropenia", "mild", "info")], LATER)
    reason = ("urn:neutropenia-cds:override-reason", "benefit-outweighs-risk", "Benefit outweighs risk")
    other = ("urn:neutropenia-cds:override-reason", "anc-rechecked-before-administration",
             "ANC will be rechecked before administration")
    store.store_feedback("neutropenia-patient-view", [
        FeedbackItem("sev-0", "accepted", "2026-11-20T09:05:00Z", ("s-1",)),
        FeedbackItem("sev-1", "overridden", "2026-11-20T09:06:00Z", (), *reason),
        FeedbackItem("sev-2", "overridden", "2026-11-20T09:07:00Z", (), *reason),
        FeedbackItem("sev-3", "overridden", "2026-11-20T09:08:00Z", (), *other),
        FeedbackItem("mild-0", "overridden", "2026-11-24T09:01:00Z", ()),
        FeedbackItem("never-shown", "overridden", "2026-11-24T09:02:00Z", (), *reason),
    ], SHOWN_AT)
    store.store_feedback("neutropenia-order-sign", [
        FeedbackItem("ord-0", "overridden", "2026-11-20T10:00:00Z", (), *other),
    ], SHOWN_AT)


# What the report must say, worked out by hand from the data above.
EXPECTED_ROWS = [
    {"finding": "neutropenia", "indicator": "critical", "shown": 4, "accepted": 1, "overridden": 3,
     "overrideRate": 0.75, "topOverrideReasons": [
         {"code": "benefit-outweighs-risk", "display": "Benefit outweighs risk", "count": 2},
         {"code": "anc-rechecked-before-administration", "display": "ANC will be rechecked before administration",
          "count": 1}]},
    {"finding": "neutropenia", "indicator": "info", "shown": 1, "accepted": 0, "overridden": 1,
     "overrideRate": 1.0, "topOverrideReasons": []},
    {"finding": "order-risk", "indicator": "critical", "shown": 2, "accepted": 0, "overridden": 1,
     "overrideRate": 0.5, "topOverrideReasons": [
         {"code": "anc-rechecked-before-administration", "display": "ANC will be rechecked before administration",
          "count": 1}]},
]


def post_override(url: str, card: str) -> int:
    """POST one override of `card` to a running service; its status, or 0 when no answer came (the server died
    under the request, or cut the answer short): no promise was made."""
    body = {"feedback": [{"card": card, "outcome": "overridden", "outcomeTimestamp": "2026-11-25T12:00:00Z",
                          "overrideReason": {"reason": {"code": "benefit-outweighs-risk"}}}]}
    try:
        return requests.post(f"{url}/cds-services/neutropenia-patient-view/feedback", json=body, timeout=30).status_code
    except requests.RequestException:
        return 0
