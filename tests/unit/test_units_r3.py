"""R3 units: every row of the UCUM and display tables, the micro signs, and what must never be guessed."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from cds_service.clinical.labs import read_results
from cds_service.clinical.model import (
    ObservationFacts,
    PatientRecord,
    Problem,
    Quantity,
)
from cds_service.clinical.units import normalise
from cds_service.knowledge import Knowledge
from cds_service.knowledge.vocabulary import Measure, Role
from tests.builders import UCUM

# R3.1 -- UCUM codes, x1000 rows then x1 rows
UCUM_COUNTS = [
    ("10*3/uL", 1000), ("10^3/uL", 1000), ("10*9/L", 1000), ("10*3/mm3", 1000), ("10*6/mL", 1000), ("/nL", 1000),
    ("/uL", 1), ("1/uL", 1), ("{cells}/uL", 1), ("/mm3", 1), ("{cells}/mm3", 1),
    # UCUM's litre is "l" as well as "L": the same units
    ("10*3/ul", 1000), ("10*9/l", 1000), ("10*6/ml", 1000), ("/nl", 1000), ("/ul", 1), ("1/ul", 1), ("{cells}/ul", 1),
]
# R3.2 -- display strings, case-insensitive
DISPLAY_COUNTS = [
    ("K/uL", 1000), ("K/mcL", 1000), ("x10E3/uL", 1000), ("x10^3/uL", 1000), ("10e3/uL", 1000),
    ("thou/uL", 1000), ("G/L", 1000), ("x10*9/L", 1000), ("cells/uL", 1), ("cells/mm3", 1), ("cells/mcL", 1),
    ("K / uL", 1000), ("x10 E3/uL", 1000), ("cells /mm3", 1),  # spaces are not part of a unit
    ("k/ul", 1000), ("THOU/UL", 1000), ("K/\u00b5L", 1000), ("K/\u03bcL", 1000), ("cells/\u00b5L", 1),
    ("x10^3/mcL", 1000), ("x10E3/mcL", 1000), ("10e3/mcL", 1000), ("thou/mcL", 1000),  # mcL, as in K/mcL
    # the same powers of ten in the laboratories' other notations
    ("x10^9/L", 1000), ("10^9/L", 1000), ("x10E9/L", 1000), ("10e9/L", 1000), ("x10(9)/L", 1000), ("10(9)/L", 1000),
    ("x10 ^9/L", 1000), ("x10*3/uL", 1000), ("x10(3)/uL", 1000), ("10(3)/uL", 1000), ("x10*3/mcL", 1000),
    ("x10(3)/mcL", 1000), ("10(3)/mcL", 1000), ("x10(3)/\u00b5L", 1000),
    ("10^3/uL", 1000), ("10^3/mcL", 1000), ("10 ^3/\u00b5L", 1000),  # x10^3/uL without its "x", as 10^9/L
    # as printed: the multiplication sign and superscript powers ("\u00d710\u2079/L" is x10^9/L)
    ("\u00d710\u2079/L", 1000), ("\u00d7 10\u2079/L", 1000), ("10\u2079/L", 1000), ("\u00d710\u00b3/\u00b5L", 1000),
    ("x10\u00b3/uL", 1000), ("10\u00b3/\u03bcL", 1000), ("\u00d710E3/uL", 1000),
    ("cells/cu mm", 1), ("cells/cumm", 1), ("cells/mm\u00b3", 1),  # a cubic millimetre, as reports write mm3
    # R3.1's UCUM codes as the display unit, with no system (it was "unrecognised unit '10*3/uL'": a severe ANC of 0.3
    # an info card); with `code` but no `system` too (below)
    ("10*3/uL", 1000), ("10*3/mcL", 1000), ("10*9/L", 1000), ("10*9/l", 1000), ("10*3/mm3", 1000), ("10*6/mL", 1000),
    ("/nL", 1000), ("/uL", 1), ("/mcL", 1), ("1/uL", 1), ("{cells}/uL", 1), ("/mm3", 1), ("{cells}/mm3", 1),
]


@pytest.mark.parametrize(("code", "factor"), UCUM_COUNTS)
def test_r3_1_ucum_count_codes(knowledge: Knowledge, code: str, factor: int) -> None:
    quantity = Quantity(Decimal("1.499"), unit="whatever the display says", system=UCUM, code=code)
    assert normalise(quantity, Measure.COUNT, knowledge.units) == Decimal("1.499") * factor


@pytest.mark.parametrize(("unit", "factor"), DISPLAY_COUNTS)
def test_r3_2_display_units(knowledge: Knowledge, unit: str, factor: int) -> None:
    quantity = Quantity(Decimal("0.5"), unit=unit, system="http://example.org/lab-units", code="X")
    assert normalise(quantity, Measure.COUNT, knowledge.units) == Decimal("0.5") * factor


@pytest.mark.parametrize(("unit", "code"), [("10*3/uL", None), ("10*3/uL", "10*3/uL"), ("/uL", "/uL")])
def test_r3_a_ucum_code_sent_with_no_system_is_read_as_its_unit(knowledge: Knowledge, unit: str,
                                                                code: str | None) -> None:
    """A feed that writes the UCUM code in `unit` (and in `code`) but sends no `system`: R3.1's codes name one unit
    each, so the display table holds them (it was an unrecognised unit: a severe ANC only an info card)."""
    quantity = Quantity(Decimal("0.3"), unit=unit, code=code)
    assert normalise(quantity, Measure.COUNT, knowledge.units) == Decimal("0.3") * (1000 if "10*3" in unit else 1)


@pytest.mark.parametrize("unit", ["K/uL", "G/L", "cells/uL"])
def test_r3_4_display_strings_are_not_ucum_codes(knowledge: Knowledge, unit: str) -> None:
    """UCUM reads K/uL as kelvin per uL and G/L as gauss per liter: as UCUM codes they are not counts."""
    quantity = Quantity(Decimal("0.5"), unit=unit, system=UCUM, code=unit)
    assert normalise(quantity, Measure.COUNT, knowledge.units) is Problem.UNRECOGNISED_UNIT


@pytest.mark.parametrize(("unit", "system", "code"), [
    ("kcells", None, None), ("10*3", None, None), ("mmol/L", UCUM, "mmol/L"), ("K", None, None),
    ("10^6/L", None, None), ("x10(6)/uL", None, None), ("10(12)/L", None, None),  # other powers: never read as these
    ("\u00d710\u00b9\u00b2/L", None, None), ("10\u2076/L", None, None), ("\u00d710\u2079", None, None),
    ("x103/uL", None, None), ("109/L", None, None),  # a power whose superscript was lost: 103 is not 10^3
])
def test_r3_3_unknown_unit_is_never_guessed(knowledge: Knowledge, unit: str, system: str | None,
                                            code: str | None) -> None:
    quantity = Quantity(Decimal("0.4"), unit=unit, system=system, code=code)
    assert normalise(quantity, Measure.COUNT, knowledge.units) is Problem.UNRECOGNISED_UNIT


@pytest.mark.parametrize("unit", [None, "", "   "])
def test_r3_3_missing_unit(knowledge: Knowledge, unit: str | None) -> None:
    assert normalise(Quantity(Decimal(420), unit=unit), Measure.COUNT, knowledge.units) is Problem.MISSING_UNIT


def test_r2_trap_percent_unit_on_count_code(knowledge: Knowledge) -> None:
    quantity = Quantity(Decimal(40), unit="%", system=UCUM, code="%")
    assert normalise(quantity, Measure.COUNT, knowledge.units) is Problem.PERCENT_ON_COUNT


@pytest.mark.parametrize(("unit", "system"), [("10*3/uL", UCUM), ("K/uL", None)])
def test_r2_trap_count_unit_on_percent_code(knowledge: Knowledge, unit: str, system: str | None) -> None:
    quantity = Quantity(Decimal(40), unit=unit, system=system, code=unit if system else None)
    assert normalise(quantity, Measure.PERCENT, knowledge.units) is Problem.COUNT_ON_PERCENT


@pytest.mark.parametrize(("value", "unit", "system", "celsius"), [
    ("38.3", "Cel", UCUM, Decimal("38.3")),
    ("101.0", "[degF]", UCUM, (Decimal("101.0") - 32) * 5 / 9),
    ("100.4", "degF", None, (Decimal("100.4") - 32) * 5 / 9),
    ("38.0", "\u00b0C", None, Decimal("38.0")),
    ("38.0", "C", None, Decimal("38.0")),
    ("100.9", "F", None, (Decimal("100.9") - 32) * 5 / 9),
    # display spellings: spaces, the ordinal indicator and the ring above typed for the degree sign, the names
    ("38.0", "deg C", None, Decimal("38.0")),
    ("101.0", "Deg F", None, (Decimal("101.0") - 32) * 5 / 9),
    ("38.0", "\u00baC", None, Decimal("38.0")),
    ("101.0", "\u00ba F", None, (Decimal("101.0") - 32) * 5 / 9),
    ("38.0", "\u02daC", None, Decimal("38.0")),
    ("38.0", "Celsius", None, Decimal("38.0")),
    ("38.0", "degrees C", None, Decimal("38.0")),
    ("101.0", "FAHRENHEIT", None, (Decimal("101.0") - 32) * 5 / 9),
    ("101.0", "degrees F", None, (Decimal("101.0") - 32) * 5 / 9),
    ("38.0", "degrees Celsius", None, Decimal("38.0")),
    ("38.0", "degree C", None, Decimal("38.0")),
    ("101.0", "degrees Fahrenheit", None, (Decimal("101.0") - 32) * 5 / 9),
    ("101.0", "degree F", None, (Decimal("101.0") - 32) * 5 / 9),
    ("38.0", "\u2103", None, Decimal("38.0")),  # the one-character degree Celsius and degree Fahrenheit signs
    ("101.0", "\u2109", None, (Decimal("101.0") - 32) * 5 / 9),
])
def test_r3_5_temperature_to_celsius_unrounded(knowledge: Knowledge, value: str, unit: str, system: str | None,
                                               celsius: Decimal) -> None:
    quantity = Quantity(Decimal(value), unit=unit, system=system, code=unit if system else None)
    assert normalise(quantity, Measure.TEMPERATURE, knowledge.units) == celsius


def test_r3_5_fahrenheit_edges_stay_unrounded(knowledge: Knowledge) -> None:
    """101.0 F is 38.333.. C (>= 38.3); 100.9 F is 38.277.. C (< 38.3): rounding first would blur them."""
    def celsius(f: str) -> Decimal:
        result = normalise(Quantity(Decimal(f), unit="[degF]", system=UCUM, code="[degF]"),
                           Measure.TEMPERATURE, knowledge.units)
        assert isinstance(result, Decimal)
        return result
    assert celsius("101.0") >= Decimal("38.3")
    assert celsius("100.9") < Decimal("38.3")


def test_percent_code_keeps_percent(knowledge: Knowledge) -> None:
    assert normalise(Quantity(Decimal("42.5"), unit="%", system=UCUM, code="%"), Measure.PERCENT,
                     knowledge.units) == Decimal("42.5")


@pytest.mark.parametrize(("measure", "value"), [(Measure.PERCENT, "100.1"), (Measure.PERCENT, "-1"),
                                                (Measure.COUNT, "-5")])
def test_impossible_values_are_data_problems(knowledge: Knowledge, measure: Measure, value: str) -> None:
    unit = "%" if measure is Measure.PERCENT else "/uL"
    assert normalise(Quantity(Decimal(value), unit=unit, system=UCUM, code=unit), measure,
                     knowledge.units) is Problem.OUT_OF_RANGE


@pytest.mark.parametrize("comparator", [">", ">=", "ad"])
def test_lower_bounds_are_not_interpreted(knowledge: Knowledge, comparator: str) -> None:
    quantity = Quantity(Decimal(1), comparator=comparator, unit="10*3/uL", system=UCUM, code="10*3/uL")
    assert normalise(quantity, Measure.COUNT, knowledge.units) is Problem.LOWER_BOUND_ONLY


@pytest.mark.parametrize("comparator", ["<", "<="])
def test_upper_bounds_keep_their_value(knowledge: Knowledge, comparator: str) -> None:
    quantity = Quantity(Decimal("0.1"), comparator=comparator, unit="10*3/uL", system=UCUM, code="10*3/uL")
    assert normalise(quantity, Measure.COUNT, knowledge.units) == Decimal(100)


def test_birth_weight_in_kilograms(knowledge: Knowledge) -> None:
    quantity = Quantity(Decimal("1.2"), unit="kg", system=UCUM, code="kg")
    assert normalise(quantity, Measure.MASS, knowledge.units) == Decimal(1200)


def _facts(value: str, code: str = "10*3/uL", low: str | None = None) -> ObservationFacts:
    return ObservationFacts(
        id=None, role=Role.ANC, loinc="751-8", status="final", subject=None,
        quantity=Quantity(Decimal(value), unit=code, system=UCUM, code=code),
        effective=datetime(2026, 11, 24, tzinfo=UTC), issued=None, last_updated=None,
        reference_low=Quantity(Decimal(low), unit=code, system=UCUM, code=code) if low is not None else None)


def _read(knowledge: Knowledge, *facts: ObservationFacts) -> list[tuple[str, str | None]]:
    """Each result's value and reference low as read, written exactly (a Decimal keeps its trailing zeros)."""
    read = read_results(PatientRecord("p", observations=facts), knowledge)
    return [(str(r.value), None if r.reference_low is None else str(r.reference_low)) for r in read.results]


def test_values_in_canonical_units_are_remembered_per_result_never_by_equal_value(knowledge: Knowledge) -> None:
    """R3 is worked out once per result object; 1.5 and 1.50 K/uL are equal, yet each reads as it was sent."""
    short, long = _facts("1.5", low="1.8"), _facts("1.50", low="1.80")
    assert short == long  # equal as values: a cache keyed by value would serve one for the other
    exact = [(str(normalise(f.quantity, Measure.COUNT, knowledge.units)),  # type: ignore[arg-type]
              str(normalise(f.reference_low, Measure.COUNT, knowledge.units)))  # type: ignore[arg-type]
             for f in (short, long)]
    assert exact[0] != exact[1]
    for _ in range(2):  # first read, then remembered
        assert _read(knowledge, short, long) == exact
        assert _read(knowledge, long) == exact[1:]


def test_values_remembered_with_one_unit_table_are_never_served_with_another(knowledge: Knowledge) -> None:
    facts = _facts("1.2")
    assert _read(knowledge, facts) == [(str(Decimal("1.2") * 1000), None)]
    # a site whose table says 10*3/uL is x1 (absurd, but a different table): read afresh, not from the first
    ucum = {m: dict(t) for m, t in knowledge.units.ucum.items()}
    ucum[Measure.COUNT]["10*3/uL"] = Decimal(1)
    site = replace(knowledge, units=replace(knowledge.units, ucum=ucum))
    assert _read(site, facts) == [("1.2", None)]
    assert _read(knowledge, facts) == [(str(Decimal("1.2") * 1000), None)]


def test_a_unit_problem_is_remembered_as_the_problem(knowledge: Knowledge) -> None:
    facts = _facts("1.2", code="furlongs")
    for _ in range(2):
        read = read_results(PatientRecord("p", observations=(facts,)), knowledge)
        assert read.results == ()
        assert [p.problem for p in read.problems] == [Problem.UNRECOGNISED_UNIT]
