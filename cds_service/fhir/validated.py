"""Validated FHIR, remembered: the facts read from a resource depend only on its exact content, so a worker keeps
the last few thousand -- an EHR sends the same results on every hook of a chart (patient-view, then each
order-select and order-sign). Bounded; keyed by the canonical bytes of the resource, never by id alone."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

import msgspec

T = TypeVar("T")
_CANONICAL = msgspec.json.Encoder(order="sorted")  # keys sorted; integers of any size (as msgspec decodes them)


class ValidatedCache:
    """A bounded map of facts (or the validation error) by resource content; when full, the entry kept longest
    goes first. A hit takes no lock (a dict read is atomic) and moves nothing."""

    def __init__(self, max_entries: int = 20_000) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[str, bytes], Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, kind: str, resource: dict[str, Any], make: Callable[[dict[str, Any]], T]) -> T:
        """make(resource), or the remembered result for identical content; a raised error is remembered too."""
        if self.max_entries <= 0:
            return make(resource)
        key = (kind, _CANONICAL.encode(resource))
        found = self._entries.get(key)
        if found is None:
            try:
                found = make(resource)
            except Exception as error:  # remembered, and raised again on every hit
                found = _Failed(error)
            with self._lock:
                self._entries[key] = found
                if len(self._entries) > self.max_entries:
                    self._entries.popitem(last=False)  # the entry kept longest
        if isinstance(found, _Failed):
            raise found.error
        result: T = found
        return result


class _Failed:
    def __init__(self, error: Exception) -> None:
        self.error = error
