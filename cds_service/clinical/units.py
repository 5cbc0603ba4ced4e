"""R3: turn a reported quantity into /uL, %, degrees Celsius or grams -- or say why it cannot be read."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from cds_service.clinical.model import Problem, Quantity
from cds_service.knowledge import Units, fold_unit
from cds_service.knowledge.vocabulary import Measure

UCUM_SYSTEM = "http://unitsofmeasure.org"
# R3: a lower bound ("> 1.2") never tells how low a count is; "ad" is not a bound at all.
UPPER_BOUND_COMPARATORS = frozenset({"<", "<="})
# R7: a temperature above a thermometer's range (">42.0") is at least that hot -- a fever is a lower limit
LOWER_BOUND_COMPARATORS = frozenset({">", ">="})


def _convert(value: Decimal, measure: Measure, factor: Any) -> Decimal:
    if measure is Measure.TEMPERATURE:
        # R3.5: C = (F - 32) x 5/9, kept unrounded.
        return (value - 32) * 5 / 9 if factor == "F" else value
    factor_value: Decimal = factor  # the knowledge loader made every count/percent/mass factor a Decimal
    return value * factor_value


def _mismatch(measure: Measure, found_in: Measure) -> Problem:
    if measure is Measure.COUNT and found_in is Measure.PERCENT:
        return Problem.PERCENT_ON_COUNT
    if measure is Measure.PERCENT and found_in is Measure.COUNT:
        return Problem.COUNT_ON_PERCENT
    return Problem.WRONG_KIND_OF_UNIT


def _lookup(key: str, measure: Measure, tables: Mapping[Measure, Mapping[str, Any]]) -> Any:
    factor = tables[measure].get(key) if measure in tables else None
    if factor is not None:  # (a factor is a Decimal or a scale, never None)
        return factor
    for other, other_table in tables.items():
        if other is not measure and key in other_table:
            return _mismatch(measure, other)
    return Problem.UNRECOGNISED_UNIT


def normalise(quantity: Quantity, measure: Measure, units: Units) -> Decimal | Problem:
    """The value in the measure's canonical unit, or the Problem that stops it being interpreted (R3, R10)."""
    if quantity.comparator is not None and quantity.comparator not in UPPER_BOUND_COMPARATORS and not (
            measure is Measure.TEMPERATURE and quantity.comparator in LOWER_BOUND_COMPARATORS):
        return Problem.LOWER_BOUND_ONLY
    if quantity.system == UCUM_SYSTEM and quantity.code:
        # R3.1: UCUM by code, case-sensitive as UCUM is.
        factor = _lookup(quantity.code, measure, units.ucum)
    elif quantity.unit and quantity.unit.strip():
        # R3.2: the curated display table; never a general UCUM parser (R3.4).
        factor = _lookup(fold_unit(quantity.unit), measure, units.display)
    else:
        return Problem.MISSING_UNIT  # R3.3: no unit -- never guess from the magnitude
    if isinstance(factor, Problem):
        return factor
    value = _convert(quantity.value, measure, factor)
    if value < 0 or (measure is Measure.PERCENT and value > 100):
        return Problem.OUT_OF_RANGE
    return value
