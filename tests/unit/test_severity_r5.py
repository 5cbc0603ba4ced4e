"""R5: severity bands at every boundary, in every unit, at every age band; profound; CTCAE v5.0 grade."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from cds_service.clinical.model import Finding, Problem
from cds_service.clinical.severity import age_scale, below_for, is_below
from cds_service.knowledge import Knowledge
from cds_service.knowledge.vocabulary import LlnBasis, Role, Severity
from tests.builders import ago, anc, observation
from tests.conftest import AssessFn

# RULES R5 "Boundaries": 1500 normal, 1499 mild, 1000 mild, 999 moderate, 500 moderate, 499 severe,
# 100 severe, 99 profound. (value /uL, severity, profound, indicator)
ADULT_BOUNDARIES = [
    (1500, None, False, None),
    (1499, Severity.MILD, False, "info"),
    (1000, Severity.MILD, False, "info"),
    (999, Severity.MODERATE, False, "warning"),
    (500, Severity.MODERATE, False, "warning"),
    (499, Severity.SEVERE, False, "critical"),
    (100, Severity.SEVERE, False, "critical"),
    (99, Severity.SEVERE, True, "critical"),
]


@pytest.mark.parametrize(("value", "severity", "profound", "indicator"), ADULT_BOUNDARIES)
def test_r5_adult_boundaries_in_cells_per_ul(assess_record: AssessFn, knowledge: Knowledge, value: int,
                                             severity: Severity | None, profound: bool, indicator: str | None) -> None:
    result = assess_record(anc(value, "/uL"))
    if severity is None:
        assert result.finding is None
        assert result.current is not None and result.current.severity is Severity.NONE
        return
    assert result.finding is Finding.NEUTROPENIA
    assert result.current is not None
    assert result.current.severity is severity
    assert result.current.profound is profound
    assert knowledge.thresholds.indicator[severity] == indicator  # the table's indicator column (R5)


# The same boundaries written in the units of R3 (x1000 units carry the value / 1000).
UNIT_FORMS = [("10*9/L", True, 1000), ("10*3/uL", True, 1000), ("K/uL", False, 1000), ("x10E3/uL", False, 1000),
              ("{cells}/uL", True, 1), ("cells/mm3", False, 1), ("/nL", True, 1000), ("G/L", False, 1000)]


@pytest.mark.parametrize(("unit", "ucum", "divisor"), UNIT_FORMS)
@pytest.mark.parametrize(("value", "severity", "profound", "indicator"), ADULT_BOUNDARIES)
def test_r5_boundaries_in_every_unit(assess_record: AssessFn, unit: str, ucum: bool, divisor: int, value: int,
                                     severity: Severity | None, profound: bool, indicator: str | None) -> None:
    sent = str(Decimal(value) / divisor)
    result = assess_record(anc(sent, unit, ucum=ucum))  # type: ignore[arg-type]
    assert result.current is not None
    assert result.current.anc.value == Decimal(value)
    assert result.current.severity is (severity or Severity.NONE)
    assert result.current.profound is profound


def test_r5_compares_unrounded_values(assess_record: AssessFn) -> None:
    """1499.9/uL is below 1500: mild, never rounded up to normal."""
    result = assess_record(anc("1.4999", "10*3/uL"))  # type: ignore[arg-type]
    assert result.current is not None and result.current.severity is Severity.MILD


# Ages at collection (birth at midnight UTC on birthDate). (birthDate, collected, LLN, basis)
AGE_BANDS = [
    ("2026-11-22", "2026-11-24T23:00:00Z", 1800, LlnBasis.NEONATE_UNDER_72H),  # 71 h
    ("2026-11-22", "2026-11-25T01:00:00Z", 1500, LlnBasis.NEONATE),  # 73 h
    ("2026-11-11", "2026-11-24T12:00:00Z", 1500, LlnBasis.NEONATE),  # 13 days
    ("2026-11-09", "2026-11-24T12:00:00Z", 1000, LlnBasis.INFANT),  # 15 days
    ("2025-12-24", "2026-11-24T12:00:00Z", 1000, LlnBasis.INFANT),  # 11 months
    ("2025-10-24", "2026-11-24T12:00:00Z", 1500, LlnBasis.STANDARD),  # 13 months
    ("2025-11-24", "2026-11-24T00:00:00Z", 1500, LlnBasis.STANDARD),  # exactly 1 year
    ("2025-11-24", "2026-11-23T23:59:00Z", 1000, LlnBasis.INFANT),  # a minute short of 1 year
    ("1950-01-01", "2026-11-24T12:00:00Z", 1500, LlnBasis.STANDARD),
]


@pytest.mark.parametrize(("birth_date", "collected", "lln", "basis"), AGE_BANDS)
def test_r5_lln_by_age_at_collection(assess_record: AssessFn, birth_date: str, collected: str, lln: int,
                                     basis: LlnBasis) -> None:
    result = assess_record(anc(1200, when=collected), birth_date=birth_date)
    assert result.current is not None
    assert result.current.limit.lln == lln
    assert result.current.limit.basis is basis


BIRTH_TIME = "http://hl7.org/fhir/StructureDefinition/patient-birthTime"


@pytest.mark.parametrize(("birth_time", "lln", "basis"), [
    # born 2026-11-22 at 22:00 UTC, collected 2026-11-25T20:00Z: 70 h old -- from midnight, 92 h
    ("2026-11-22T22:00:00Z", 1800, LlnBasis.NEONATE_UNDER_72H),
    ("2026-11-22T17:00:00-05:00", 1800, LlnBasis.NEONATE_UNDER_72H),  # the same instant, written in New York
    ("2026-11-22T19:00:00Z", 1500, LlnBasis.NEONATE),  # 73 h
    (None, 1500, LlnBasis.NEONATE),  # no birthTime: from midnight UTC, 92 h
    ("2026-11-23T01:00:00Z", 1800, LlnBasis.NEONATE_UNDER_72H),  # 67 h: Nov 22 in the Americas, written in UTC
    ("2026-11-24T10:00:00Z", 1500, LlnBasis.NEONATE),  # on no time zone's Nov 22: from midnight
    ("about ten", 1500, LlnBasis.NEONATE),  # no FHIR time: from midnight
])
def test_r5_the_hour_of_birth_where_the_record_gives_it(assess_record: AssessFn, birth_time: str | None, lln: int,
                                                        basis: LlnBasis) -> None:
    """R5: the LLN by age at collection -- in the first 72 hours, by the hour: the patient-birthTime extension."""
    born: dict[str, object] = {"resourceType": "Patient", "id": "pat-1", "birthDate": "2026-11-22"}
    if birth_time is not None:
        born["_birthDate"] = {"extension": [{"url": BIRTH_TIME, "valueDateTime": birth_time}]}
    result = assess_record(anc(1600, when="2026-11-25T20:00:00Z"), patient_resource=born)
    assert result.current is not None
    assert (result.current.limit.lln, result.current.limit.basis) == (lln, basis)
    assert result.finding is (Finding.LOW_FOR_AGE if lln == 1800 else None)  # 1600: below 1800, not below 1500


@pytest.mark.parametrize("birth_date", ["2026-11-22T00:00:00Z", "2026-11-22T00:00:00", "2026-11-22T09:30:00-05:00"])
def test_r5_a_birth_date_sent_as_a_date_time_is_its_day(assess_record: AssessFn, birth_date: str) -> None:
    """A dateTime sent for the birthDate, as some converters write every date: its day, counted from midnight as any
    birthDate (R5) -- ANC 1,600 at 44 hours is low for age (1,800). It was an unknown age: adult limits, no card."""
    born = {"resourceType": "Patient", "id": "pat-1", "birthDate": birth_date}
    result = assess_record(anc(1600, when="2026-11-23T20:00:00Z"), patient_resource=born)
    assert result.current is not None
    assert (result.current.limit.lln, result.current.limit.basis) == (1800, LlnBasis.NEONATE_UNDER_72H)
    assert result.finding is Finding.LOW_FOR_AGE


@pytest.mark.parametrize(("birth_date", "collected", "value", "finding", "severity"), [
    # <72 h, LLN 1800: 1799 is below for age but above 1500 -> low-for-age (mild, info)
    ("2026-11-23", "2026-11-24T12:00:00Z", 1799, Finding.LOW_FOR_AGE, Severity.MILD),
    ("2026-11-23", "2026-11-24T12:00:00Z", 1800, None, Severity.NONE),
    ("2026-11-23", "2026-11-24T12:00:00Z", 1499, Finding.NEUTROPENIA, Severity.MILD),
    # 2 weeks to 1 year, LLN 1000: no mild band -- 1000 normal, 999 moderate
    ("2026-05-01", "2026-11-24T12:00:00Z", 1000, None, Severity.NONE),
    ("2026-05-01", "2026-11-24T12:00:00Z", 999, Finding.NEUTROPENIA, Severity.MODERATE),
    ("2026-05-01", "2026-11-24T12:00:00Z", 1200, None, Severity.NONE),
])
def test_r5_pediatric_severity(assess_record: AssessFn, birth_date: str, collected: str, value: int,
                               finding: Finding | None, severity: Severity) -> None:
    result = assess_record(anc(value, when=collected), birth_date=birth_date)
    assert result.finding is finding
    assert result.current is not None and result.current.severity is severity


@pytest.mark.parametrize(("bound", "finding"), [
    # a neonate under 72 h (LLN 1800): a WBC of 1,700 with no differential -- the ANC at most 1,700 (R4), perhaps 300:
    # never "not below the general limit of 1,500" (it said so, low-for-age); the mild neutropenia card
    (observation("6690-2", 1.7, "10*3/uL", when="2026-11-24T12:00:00Z"), Finding.NEUTROPENIA),
    (anc(1700, comparator="<", when="2026-11-24T12:00:00Z"), Finding.NEUTROPENIA),
    (anc(1700, when="2026-11-24T12:00:00Z"), Finding.LOW_FOR_AGE),
])
def test_r5_an_upper_bound_is_never_low_for_age_only(assess_record: AssessFn, bound: dict[str, object],
                                                     finding: Finding) -> None:
    result = assess_record(bound, birth_date="2026-11-23")
    assert result.current is not None and result.current.limit.lln == 1800
    assert result.finding is finding


def birth_weight(grams: int) -> dict[str, object]:
    return observation("8339-4", grams, "g", when="2026-11-01T00:00:00Z")


@pytest.mark.parametrize(("birth_date", "collected", "grams", "lln", "basis", "missing"), [
    # VLBW (< 1500 g): LLN 1100 from 61 hours to 28 days (Mouzinho 1994)
    ("2026-11-01", "2026-11-03T12:59:00Z", 1200, 1800, LlnBasis.NEONATE_UNDER_72H, False),  # 60 h 59 min
    ("2026-11-01", "2026-11-03T13:00:00Z", 1200, 1100, LlnBasis.VERY_LOW_BIRTH_WEIGHT, False),  # 61 h
    ("2026-11-01", "2026-11-20T12:00:00Z", 1200, 1100, LlnBasis.VERY_LOW_BIRTH_WEIGHT, False),  # 19 days
    ("2026-10-27", "2026-11-24T00:00:00Z", 1200, 1000, LlnBasis.INFANT, False),  # 28 days: term limits again
    ("2026-11-01", "2026-11-20T12:00:00Z", 1500, 1000, LlnBasis.INFANT, False),  # 1500 g is not < 1500 g
    ("2026-11-01", "2026-11-20T12:00:00Z", None, 1000, LlnBasis.INFANT, True),  # no weight: term, card says so
])
def test_r5_very_low_birth_weight(assess_record: AssessFn, birth_date: str, collected: str, grams: int | None,
                                  lln: int, basis: LlnBasis, missing: bool) -> None:
    resources = [anc(1050, when=collected)]
    if grams is not None:
        resources.append(birth_weight(grams))  # type: ignore[arg-type]
    result = assess_record(*resources, birth_date=birth_date, now=datetime.fromisoformat(collected))
    assert result.current is not None
    assert (result.current.limit.lln, result.current.limit.basis) == (lln, basis)
    assert result.current.limit.birth_weight_missing is missing


@pytest.mark.parametrize(("value", "unit", "ucum", "vlbw"), [
    # a birth weight in the units US records keep (UCUM's avoirdupois pound and ounce: 453.59237 g, 28.349523125 g)
    ("3.30", "[lb_av]", True, True), ("3.31", "[lb_av]", True, False),  # 1496.9 g, 1501.4 g
    ("52.9", "[oz_av]", True, True), ("53", "[oz_av]", True, False),  # 1499.7 g, 1502.5 g
    ("3.30", "lb", False, True), ("3.31", "lbs", False, False), ("52.9", "oz", False, True),
    ("1499", "gm", False, True), ("1500", "grams", False, False), ("1.499", "kilograms", False, True),
])
def test_r5_a_birth_weight_in_pounds_or_ounces(assess_record: AssessFn, value: str, unit: str, ucum: bool,
                                               vlbw: bool) -> None:
    weight = observation("8339-4", value, unit, ucum=ucum, when="2026-11-01T00:00:00Z")
    result = assess_record(anc(1050, when="2026-11-20T12:00:00Z"), weight, birth_date="2026-11-01",
                           now=datetime.fromisoformat("2026-11-20T12:00:00Z"))
    assert result.current is not None and not result.data_problems
    # (it was no birth weight: term limits, and "no birth weight is recorded")
    expected = (1100, LlnBasis.VERY_LOW_BIRTH_WEIGHT, False) if vlbw else (1000, LlnBasis.INFANT, False)
    assert (result.current.limit.lln, result.current.limit.basis, result.current.limit.birth_weight_missing) == expected


def test_r5_a_birth_weight_that_cannot_be_read_is_said_when_term_limits_are_used_for_want_of_it(
        assess_record: AssessFn) -> None:
    """R5 with R10: an infant of 10 days, ANC 1,200, a birth weight sent with a unit no table knows: term limits (mild)
    -- and the unreadable weight, which may be a very low one (no card), is shown, though older than the ANC (it was
    left out as older than the count, as results older than the ANC change no answer)."""
    weight = observation("8339-4", "1200", "grammes?", ucum=False, when="2026-11-15T00:00:00Z")
    result = assess_record(anc(1200), weight, birth_date="2026-11-15")
    assert result.current is not None and result.current.limit.birth_weight_missing
    assert result.finding is Finding.NEUTROPENIA and result.current.severity is Severity.MILD
    assert [(p.problem, p.role) for p in result.data_problems] == [(Problem.UNRECOGNISED_UNIT, Role.BIRTH_WEIGHT)]
    # an adult's unreadable birth weight changes nothing, and is not shown
    assert not assess_record(anc(1200), weight, birth_date="1980-05-01").data_problems


def test_r5_no_birth_date_uses_adult_rules(assess_record: AssessFn) -> None:
    result = assess_record(anc(1200), birth_date=None)
    assert result.current is not None
    assert result.current.limit.basis is LlnBasis.AGE_UNKNOWN
    assert result.current.limit.lln == 1500
    assert result.current.severity is Severity.MILD


@pytest.mark.parametrize("birth_date", ["2026-11-30", "9999-12-31", "9999-12", "9999"])
def test_r5_a_birth_date_after_the_collection_uses_adult_rules(assess_record: AssessFn, birth_date: str) -> None:
    # R5: a birthDate after the collection is an unknown age -- even one whose age bands would end past year 9999
    result = assess_record(anc(1200), birth_date=birth_date)
    assert result.current is not None
    assert (result.current.limit.basis, result.current.limit.lln) == (LlnBasis.AGE_UNKNOWN, 1500)
    assert result.current.severity is Severity.MILD


@pytest.mark.parametrize(("birth_date", "basis"), [("2020", LlnBasis.STANDARD), ("2026", LlnBasis.AGE_UNKNOWN),
                                                   ("2026-02", LlnBasis.AGE_UNKNOWN)])
def test_r5_partial_birth_date(assess_record: AssessFn, birth_date: str, basis: LlnBasis) -> None:
    """A partial birthDate is used only when even the latest possible birth is over a year ago."""
    result = assess_record(anc(1200), birth_date=birth_date)
    assert result.current is not None and result.current.limit.basis is basis
    assert result.current.limit.lln == 1500


# CTCAE v5.0: G1 1500 <= ANC < lab LLN; G2 1000-1499; G3 500-999; G4 < 500 (lower bounds inclusive).
@pytest.mark.parametrize(("value", "lab_low", "grade"), [
    (2000, 1800, 0), (1800, 1800, 0), (1799, 1800, 1), (1500, 1800, 1), (1500, None, None),
    (1499, None, 2), (1000, None, 2), (999, None, 3), (500, None, 3), (499, None, 4), (99, None, 4),
])
def test_r5_ctcae_grade(assess_record: AssessFn, value: int, lab_low: int | None, grade: int | None) -> None:
    low = (lab_low, "/uL") if lab_low is not None else None
    result = assess_record(anc(value, reference_low=low))
    assert result.current is not None and result.current.ctcae_grade == grade


@pytest.mark.parametrize(("sent", "severity", "profound"), [
    ("0.1", Severity.SEVERE, True),  # "<0.1 K/uL": below 100/uL
    ("0.5", Severity.SEVERE, False),  # "<0.5 K/uL": below 500/uL, maybe not below 100
    ("1.0", Severity.MODERATE, False),  # "<1.0 K/uL": at least moderate
])
def test_upper_bound_results(assess_record: AssessFn, sent: str, severity: Severity, profound: bool) -> None:
    result = assess_record(anc(sent, "10*3/uL", comparator="<"))  # type: ignore[arg-type]
    assert result.current is not None
    assert (result.current.severity, result.current.profound) == (severity, profound)
    assert result.current.anc.comparator == "<"


def test_upper_bound_above_the_limit_is_a_data_problem(assess_record: AssessFn) -> None:
    """"<2.0 K/uL" says nothing about how low the count is: never called normal."""
    result = assess_record(anc("2.0", "10*3/uL", comparator="<", when=ago(hours=2)))  # type: ignore[arg-type]
    assert result.current is None
    assert [p.problem.value for p in result.data_problems] == ["upper-bound-above-limit"]


def test_an_age_scale_follows_the_thresholds_it_is_given(knowledge: Knowledge) -> None:
    thresholds = knowledge.thresholds
    birth = date(2026, 11, 1)
    scale = age_scale(birth, "day", None, thresholds)
    # other thresholds (a site's own bands): the limits are theirs
    infant_lln_800 = tuple(replace(band, lln=Decimal(800)) if band.lln == Decimal(1000) else band
                           for band in thresholds.age_bands)
    site = replace(thresholds, age_bands=infant_lln_800)
    at = datetime(2027, 3, 1, tzinfo=UTC)  # four months old: the infant band
    assert scale.limit_at(at).lln == Decimal(1000)
    assert age_scale(birth, "day", None, site).limit_at(at).lln == Decimal(800)


# "Certainly below the limit": a value sent as "<v" is below v, so "<500" is below 500; "<=500" may be 500.
@pytest.mark.parametrize(("value", "comparator", "below"), [
    (499, None, True), (500, None, False), (501, None, False),
    (500, "<", True), (501, "<", False),
    (499, "<=", True), (500, "<=", False),
])
def test_certainly_below_a_limit_of_500(value: int, comparator: str | None, below: bool) -> None:
    limit = Decimal(500)
    assert is_below(Decimal(value), comparator, limit) is below
    assert below_for(comparator)(Decimal(value), limit) is below
