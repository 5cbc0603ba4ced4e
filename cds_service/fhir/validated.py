"""Validated FHIR, remembered: the facts read from a resource depend only on its exact content, so a worker keeps
the last few thousand -- an EHR sends the same results on every hook of a chart (patient-view, then each
order-select and order-sign). Bounded; keyed by the canonical bytes of the resource, or by the bytes it was received
as, never by id alone."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

import msgspec

T = TypeVar("T")
A = TypeVar("A")
_CANONICAL = msgspec.json.Encoder(order="sorted")  # keys sorted; integers of any size (as msgspec decodes them)


class ValidatedCache:
    """A bounded map of facts (or the error raised) by resource content; when full -- in entries, or in the bytes
    its keys hold (a resource as received keeps its narrative) -- the entry kept longest goes first. A hit takes no
    lock (a dict read is atomic) and moves nothing."""

    def __init__(self, max_entries: int = 20_000, max_bytes: int = 32 * 1024 * 1024) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple[str, bytes] | bytes, Any] = OrderedDict()  # (kind, canonical) or as received
        self._bytes = 0  # held by the keys
        self._lock = threading.Lock()

    def get(self, kind: str, resource: dict[str, Any], make: Callable[[dict[str, Any]], T]) -> T:
        """make(resource), or the remembered result for identical content; a raised error is remembered too."""
        if self.max_entries <= 0:
            return make(resource)
        return self._remembered((kind, _CANONICAL.encode(resource)), make, resource)

    def get_received(self, data: bytes, make: Callable[[bytes], T]) -> T:
        """make(data) for a resource as received, or the remembered result for the same bytes: nothing is decoded
        on a hit. The same content sent with other spacing or key order is another entry, never another answer."""
        found = self._entries.get(data, _MISSING)
        if found is not _MISSING:
            result: T = found
            return result
        if self.max_entries <= 0:
            return make(data)
        return self._remembered(data, make, data)

    def received(self) -> Callable[[bytes, Any], Any]:
        """The look-up of results remembered by the bytes received, as `dict.get`: `received(data, default)` costs no
        call of a Python function, which matters once per result of every hook call. It gives `default` for bytes
        not read yet, and for bytes whose reading raised (kept apart): for those, get_received."""
        return self._entries.get

    def _remembered(self, key: tuple[str, bytes] | bytes, make: Callable[[A], T], argument: A) -> T:
        found = self._entries.get(key, _MISSING)
        if found is _MISSING and isinstance(key, bytes):  # an error raised reading these bytes is kept apart
            found = self._entries.get((_RAISED, key), _MISSING)
        if found is _MISSING:
            try:
                found = make(argument)
            except Exception as error:  # remembered, and raised again on every hit
                found = _Failed(error)
                if isinstance(key, bytes):
                    key = (_RAISED, key)
            with self._lock:
                if key not in self._entries:
                    self._bytes += _size(key)
                self._entries[key] = found
                while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
                    old, _ = self._entries.popitem(last=False)  # the entry kept longest
                    self._bytes -= _size(old)
        if isinstance(found, _Failed):
            raise found.error.with_traceback(None)  # (each raise would otherwise add its frames to the kept one)
        result: T = found
        return result


_MISSING = object()  # (None may be a result)
_RAISED = "received, raised"  # the kind of an error raised reading bytes as received, so that received() never finds it


def _size(key: tuple[str, bytes] | bytes) -> int:
    return len(key) if isinstance(key, bytes) else len(key[1])


class _Failed:
    def __init__(self, error: Exception) -> None:
        self.error = error
