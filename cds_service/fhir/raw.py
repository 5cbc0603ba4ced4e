"""Raw JSON as it comes: Python dicts and lists, or simdjson's lazy Objects and Arrays (a large prefetch Bundle is
read lazily, and only the resources a rule reads are ever turned into Python objects)."""

from __future__ import annotations

from typing import Any

import orjson
import simdjson

OBJECT = (dict, simdjson.Object)
ARRAY = (list, simdjson.Array)


def materialize(value: Any) -> Any:
    """A plain Python value (dicts and lists) from raw JSON, lazy or not."""
    if isinstance(value, simdjson.Object):
        return value.as_dict()
    if isinstance(value, simdjson.Array):
        return value.as_list()
    return value


def _prefetch_value(value: Any) -> Any:
    # A Bundle keeps its entries lazy; everything else (a single resource, null) becomes Python at once.
    if isinstance(value, simdjson.Object) and value.get("resourceType") == "Bundle":
        lazy = {key: materialize(item) for key, item in value.items() if key != "entry"}
        if "entry" in value:
            lazy["entry"] = value["entry"]
        return lazy
    return materialize(value)


def parse_request_body(body: bytes) -> Any:
    """A CDS Hooks request body: Python throughout except the entries of prefetch Bundles, which stay lazy.

    Raises orjson.JSONDecodeError for a body that is not JSON. What simdjson refuses but JSON allows (an integer
    beyond 64 bits) is read by orjson instead, whole."""
    try:
        document = simdjson.Parser().parse(body)
    except (ValueError, RuntimeError, UnicodeDecodeError):
        return orjson.loads(body)
    if not isinstance(document, simdjson.Object):
        return materialize(document)
    parsed = {}
    for key, value in document.items():
        if key == "prefetch" and isinstance(value, simdjson.Object):
            parsed[key] = {name: _prefetch_value(item) for name, item in value.items()}
        else:
            parsed[key] = materialize(value)
    return parsed
