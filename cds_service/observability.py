"""Counts of what the service noticed but did not refuse (drafts read despite irregularities, unrecognised
medications, terminology look-ups), by event name: never a value, a name or an id."""

from __future__ import annotations

import logging
from collections import Counter

events: Counter[str] = Counter()


def noticed(logger: logging.Logger, event: str, level: int = logging.INFO) -> None:
    """Count `event` and log it at `level` (the event text must hold no PHI)."""
    events[event] += 1
    logger.log(level, "%s", event)
