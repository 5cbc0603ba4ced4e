"""CDS Hooks 2.0 feedback bodies: what is accepted, and every way one is refused."""

from __future__ import annotations

import re
from typing import Any

import pytest

from cds_service.errors import BadRequest
from cds_service.feedback.model import parse_feedback

REASON = {"system": "urn:neutropenia-cds:override-reason", "code": "benefit-outweighs-risk",
          "display": "Benefit outweighs risk"}


def test_accepted_with_suggestions() -> None:
    (item,) = parse_feedback({"feedback": [{"card": "c1", "outcome": "accepted",
                                            "acceptedSuggestions": [{"id": "s1"}, {"id": "s2"}],
                                            "outcomeTimestamp": "2026-11-25T12:00:00+01:00"}]})
    assert item.accepted_suggestions == ("s1", "s2")
    assert item.outcome_timestamp == "2026-11-25T11:00:00Z"  # normalised to UTC


def test_overridden_2_0_shape() -> None:
    (item,) = parse_feedback({"feedback": [{"card": "c1", "outcome": "overridden", "outcomeTimestamp":
                                            "2026-11-25T12:00:00Z", "overrideReason": {
                                                "reason": REASON, "userComment": "spoke with the patient"}}]})
    assert (item.override_code, item.override_display, item.has_comment) == (
        "benefit-outweighs-risk", "Benefit outweighs risk", True)


def test_overridden_older_flat_shape() -> None:
    (item,) = parse_feedback({"feedback": [{"card": "c1", "outcome": "overridden",
                                            "outcomeTimestamp": "2026-11-25T12:00:00Z", "overrideReason": REASON}]})
    assert item.override_code == "benefit-outweighs-risk" and not item.has_comment


def test_overridden_without_a_reason() -> None:
    (item,) = parse_feedback({"feedback": [{"card": "c1", "outcome": "overridden",
                                            "outcomeTimestamp": "2026-11-25T12:00:00Z"}]})
    assert item.override_code is None


@pytest.mark.parametrize(("body", "text"), [
    ({}, "at least one item"),
    ({"feedback": []}, "at least one item"),
    ({"feedback": "x"}, "at least one item"),
    ({"feedback": ["x"]}, "feedback[0] must be an object"),
    ({"feedback": [{"outcome": "accepted"}]}, "feedback[0].card must be"),
    ({"feedback": [{"card": "c", "outcome": "ignored", "outcomeTimestamp": "2026-11-25T12:00:00Z"}]},
     "outcome must be accepted or overridden"),
    ({"feedback": [{"card": "c", "outcome": "accepted", "outcomeTimestamp": "2026-11-25T12:00:00Z"}]},
     "needs acceptedSuggestions"),
    ({"feedback": [{"card": "c", "outcome": "accepted", "acceptedSuggestions": [{"uuid": "s"}],
                    "outcomeTimestamp": "2026-11-25T12:00:00Z"}]}, "needs acceptedSuggestions"),
    ({"feedback": [{"card": "c", "outcome": "overridden"}]}, "outcomeTimestamp is required"),
    ({"feedback": [{"card": "c", "outcome": "overridden", "outcomeTimestamp": "yesterday"}]}, "not an ISO 8601"),
    ({"feedback": [{"card": "c", "outcome": "overridden", "outcomeTimestamp": "2026-11-25T12:00:00"}]},
     "needs a time zone"),
    ({"feedback": [{"card": "c", "outcome": "overridden", "outcomeTimestamp": "2026-11-25T12:00:00Z",
                    "overrideReason": "because"}]}, "overrideReason must be an object"),
    ({"feedback": [{"card": "c", "outcome": "overridden", "outcomeTimestamp": "2026-11-25T12:00:00Z",
                    "overrideReason": {"reason": {"display": "no code"}}}]}, "Coding with a code"),
    ({"feedback": [{"card": "c" * 65, "outcome": "overridden", "outcomeTimestamp": "2026-11-25T12:00:00Z"}]},
     "card must be"),
])
def test_invalid_feedback(body: Any, text: str) -> None:
    with pytest.raises(BadRequest, match=re.escape(text)):
        parse_feedback(body)
