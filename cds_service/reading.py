"""Reading a peer's answer whole, within a deadline and a size: a server that trickles its answer (a byte now and
then, each read well within its timeout) holds no thread past the deadline."""

from __future__ import annotations

import time
from typing import Any

CHUNK_BYTES = 16 * 1024


class TooSlow(ValueError):
    """The answer was still coming at the deadline."""


class TooLarge(ValueError):
    """The answer is larger than allowed."""


def read_within(response: Any, max_bytes: int, until: float) -> bytes:
    """The body of a streamed `requests` answer, read whole by `until` (time.monotonic()) and no larger than
    `max_bytes`; TooSlow or TooLarge otherwise. Each read waits at most the request's read timeout."""
    chunks, size = [], 0
    while chunk := response.raw.read1(CHUNK_BYTES, decode_content=True):  # what one read brings
        chunks.append(chunk)
        size += len(chunk)
        if size > max_bytes:
            raise TooLarge(f"an answer over {max_bytes} bytes")
        if time.monotonic() > until:
            raise TooSlow("an answer still coming at the deadline")
    return b"".join(chunks)
