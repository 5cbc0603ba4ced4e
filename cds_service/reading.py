"""Reading a peer's answer whole, within a deadline and a size: a server that trickles its answer (a byte now and
then, each read well within its timeout) holds no thread past the deadline."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import requests
import urllib3

CHUNK_BYTES = 16 * 1024


class TooSlow(ValueError):
    """The answer was still coming at the deadline."""


class TooLarge(ValueError):
    """The answer is larger than allowed."""


def read_chunks(response: Any) -> Iterator[bytes]:
    """What each read of a streamed `requests` answer brings, to its end. A read that fails -- a server that stops
    sending for longer than the read timeout, a connection broken mid-answer -- raises the requests exception
    requests raises for it, never urllib3's own, which the callers' `except requests.RequestException` would let
    through (a 500)."""
    try:
        while chunk := response.raw.read1(CHUNK_BYTES, decode_content=True):  # what one read brings
            yield chunk
    except urllib3.exceptions.ReadTimeoutError as exc:
        raise requests.exceptions.ReadTimeout(exc) from None
    except urllib3.exceptions.ProtocolError as exc:
        raise requests.exceptions.ChunkedEncodingError(exc) from None
    except urllib3.exceptions.DecodeError as exc:
        raise requests.exceptions.ContentDecodingError(exc) from None
    except urllib3.exceptions.HTTPError as exc:
        raise requests.exceptions.ConnectionError(exc) from None


def read_within(response: Any, max_bytes: int, until: float) -> bytes:
    """The body of a streamed `requests` answer, read whole by `until` (time.monotonic()) and no larger than
    `max_bytes`; TooSlow or TooLarge otherwise. Each read waits at most the request's read timeout."""
    chunks, size = [], 0
    for chunk in read_chunks(response):
        chunks.append(chunk)
        size += len(chunk)
        if size > max_bytes:
            raise TooLarge(f"an answer over {max_bytes} bytes")
        if time.monotonic() > until:
            raise TooSlow("an answer still coming at the deadline")
    return b"".join(chunks)
