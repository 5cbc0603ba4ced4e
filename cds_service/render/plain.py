"""Domain objects as plain JSON-ready data: Decimals as numbers, times as ISO 8601, enums as their values."""

from __future__ import annotations

import dataclasses
import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import msgspec

_INTEGERS = Decimal(2**63)  # what a 64-bit JSON parser (and orjson) holds as an integer


def json_number(value: Decimal) -> int | float:
    """A Decimal as a JSON number: an integer when it is whole and within 64 bits, else a float (the one
    Decimal-to-JSON rule; a value of 1e300 in a result is sent as the float it was)."""
    return int(value) if value == value.to_integral_value() and -_INTEGERS < value < _INTEGERS else float(value)


def to_plain(value: Any) -> Any:
    if isinstance(value, msgspec.Struct):
        return {name: to_plain(getattr(value, name)) for name in value.__struct_fields__}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Decimal):
        return json_number(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [to_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    return value
