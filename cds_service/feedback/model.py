"""CDS Hooks 2.0 feedback bodies, checked: `feedback: [{card, outcome, acceptedSuggestions, overrideReason,
outcomeTimestamp}]`, and the older flat overrideReason (a Coding, userComment beside it) some clients send."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cds_service.errors import BadRequest, TooLarge

OUTCOMES = ("accepted", "overridden")


def since_moment(text: str) -> datetime:
    """A report's `since` (ISO 8601 date or date-time; UTC when it names no zone), in UTC; ValueError when it is
    none, or names a moment no date holds in UTC (9999-12-31T23:00-14:00)."""
    moment = datetime.fromisoformat(text)
    try:
        return moment.astimezone(UTC) if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    except OverflowError:
        raise ValueError(f"{text!r} is out of range in UTC") from None


@dataclass(frozen=True)
class FeedbackItem:
    card: str
    outcome: str
    outcome_timestamp: str  # normalised: UTC, ISO 8601, seconds precision or finer
    accepted_suggestions: tuple[str, ...] = ()
    override_system: str | None = None
    override_code: str | None = None
    override_display: str | None = None
    has_comment: bool = False


def _timestamp(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise BadRequest(f"{where}.outcomeTimestamp is required (an ISO 8601 date-time with a time zone)")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"{where}.outcomeTimestamp is not an ISO 8601 date-time: {value[:40]!r}") from None
    if moment.tzinfo is None:
        raise BadRequest(f"{where}.outcomeTimestamp needs a time zone")
    try:
        return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
    except OverflowError:  # (9999-12-31T23:59-14:00: no date holds it in UTC)
        raise BadRequest(f"{where}.outcomeTimestamp is out of range: {value[:40]!r}") from None


def _override(item: dict[str, Any], where: str) -> tuple[str | None, str | None, str | None, bool]:
    reason = item.get("overrideReason")
    if reason is None:
        return None, None, None, bool(item.get("userComment"))
    if not isinstance(reason, dict):
        raise BadRequest(f"{where}.overrideReason must be an object")
    comment = reason.get("userComment", item.get("userComment"))
    coding = reason.get("reason", reason if "code" in reason else None)  # 2.0 nests it; older clients send it flat
    if coding is None:
        return None, None, None, bool(comment)
    if not isinstance(coding, dict) or not isinstance(coding.get("code"), str):
        raise BadRequest(f"{where}.overrideReason.reason must be a Coding with a code")
    parts = [coding.get(k) for k in ("system", "code", "display")]
    if any(p is not None and not isinstance(p, str) for p in parts):
        raise BadRequest(f"{where}.overrideReason.reason system, code and display must be strings")
    return parts[0], parts[1], parts[2], bool(comment)


MAX_ITEMS = 1000  # per POST: an EHR sends feedback on the cards of one call, a handful at a time


def parse_feedback(body: Any) -> list[FeedbackItem]:
    """The items of a feedback body, or BadRequest naming the first thing wrong."""
    if not isinstance(body, dict) or not isinstance(body.get("feedback"), list) or not body["feedback"]:
        raise BadRequest("the body must be {\"feedback\": [ ... ]} with at least one item")
    if len(body["feedback"]) > MAX_ITEMS:
        raise TooLarge(f"at most {MAX_ITEMS} feedback items per request; send the rest in further requests")
    items = []
    for index, item in enumerate(body["feedback"]):
        where = f"feedback[{index}]"
        if not isinstance(item, dict):
            raise BadRequest(f"{where} must be an object")
        card = item.get("card")
        if not isinstance(card, str) or not card or len(card) > 64:
            raise BadRequest(f"{where}.card must be the card's uuid")
        outcome = item.get("outcome")
        if outcome not in OUTCOMES:
            raise BadRequest(f"{where}.outcome must be accepted or overridden")
        accepted = item.get("acceptedSuggestions")
        suggestions: tuple[str, ...] = ()
        if outcome == "accepted":
            if not isinstance(accepted, list) or not accepted or not all(
                isinstance(s, dict) and isinstance(s.get("id"), str) for s in accepted
            ):
                raise BadRequest(f"{where}: an accepted outcome needs acceptedSuggestions [{{\"id\": ...}}]")
            suggestions = tuple(s["id"] for s in accepted)
        system, code, display, comment = _override(item, where)
        items.append(FeedbackItem(card, outcome, _timestamp(item.get("outcomeTimestamp"), where), suggestions,
                                  system, code, display, comment))
    return items
