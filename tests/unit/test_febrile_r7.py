"""R7: fever at its edges, neutropenia for FN with and without the chemotherapy window, and the findings."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from cds_service.clinical.fever import detect_fever
from cds_service.clinical.model import FeverRule, Finding, Problem, TemperatureReading
from cds_service.knowledge import Knowledge
from cds_service.knowledge.vocabulary import Role
from tests.builders import NOW, ago, anc, medication, observation, temperature
from tests.conftest import AssessFn


@pytest.mark.parametrize(("value", "unit", "febrile"), [
    ("38.3", "Cel", True), ("38.29", "Cel", False), ("38.2", "Cel", False),
    ("101.0", "[degF]", True), ("100.9", "[degF]", False), ("104", "[degF]", True),
])
def test_r7_single_reading(assess_record: AssessFn, value: str, unit: str, febrile: bool) -> None:
    result = assess_record(anc(300), temperature(value, unit))
    assert result.febrile is febrile
    if febrile:
        assert result.fever is not None and result.fever.rule is FeverRule.SINGLE


@pytest.mark.parametrize(("readings", "febrile"), [
    # (minutes before NOW, Celsius): >= 38.0 C over >= 60 minutes with none below 38.0 between
    (((90, "38.0"), (30, "38.0")), True),  # exactly 60 minutes
    (((89, "38.0"), (30, "38.0")), False),  # 59 minutes
    (((120, "38.1"), (90, "38.2"), (60, "38.1")), True),
    (((120, "38.1"), (90, "37.9"), (60, "38.1")), False),  # a reading below 38.0 between them
    (((120, "38.0"), (100, "37.99"), (60, "38.0"), (0, "38.0")), True),  # a later run of 60 minutes
    (((120, "37.99"), (60, "38.2")), False),
    (((100, "38.0"),), False),  # one reading is never sustained
    (((100, "38.0"), (100, "38.1")), False),  # two readings of one moment span no time
    # readings of one moment (another site, another device): one below 38.0 C at the first or the last moment is not
    # between them; one at a moment in between is
    (((90, "38.1"), (90, "37.8"), (30, "38.1")), True),
    (((90, "38.1"), (30, "37.8"), (30, "38.1")), True),
    (((90, "38.1"), (60, "37.8"), (60, "38.1"), (30, "38.1")), False),
    (((90, "37.8"), (90, "38.1"), (60, "38.0"), (60, "37.9"), (10, "38.2")), False),
])
def test_r7_sustained_fever(assess_record: AssessFn, readings: tuple[tuple[int, str], ...], febrile: bool) -> None:
    temps = [temperature(c, when=ago(minutes=m)) for m, c in readings]
    for sent in (temps, temps[::-1]):  # the order readings are sent in never changes the answer
        result = assess_record(anc(300), *sent)
        assert result.febrile is febrile
        if febrile:
            assert result.fever is not None and result.fever.rule is FeverRule.SUSTAINED
            assert all(r.celsius >= Decimal("38.0") for r in result.fever.readings)


@pytest.mark.parametrize(("value", "unit", "comparator", "febrile"), [
    # a thermometer's "above its range": at least that hot -- a fever when the bound is one
    ("42.0", "Cel", ">", True), ("38.3", "Cel", ">=", True), ("107.6", "[degF]", ">", True),
    ("38.2", "Cel", ">", False),  # above 38.2 is not certainly 38.3 or more
    ("35.0", "Cel", "<", False), ("38.3", "Cel", "<", False),  # an upper bound is never a fever
])
def test_r7_a_temperature_sent_as_a_bound(assess_record: AssessFn, value: str, unit: str, comparator: str,
                                          febrile: bool) -> None:
    result = assess_record(anc(300), temperature(value, unit, comparator=comparator))
    assert result.febrile is febrile
    assert not [p for p in result.data_problems if p.role is Role.TEMPERATURE]  # a bound is no data problem
    if febrile:
        assert result.finding is Finding.FEBRILE_NEUTROPENIA
        assert result.fever is not None and result.fever.highest.comparator == comparator


def test_r7_a_lower_bound_below_38_neither_makes_nor_breaks_a_sustained_fever(assess_record: AssessFn) -> None:
    temps = [temperature("38.1", when=ago(minutes=90)), temperature("37.5", comparator=">", when=ago(minutes=60)),
             temperature("38.1", when=ago(minutes=30))]
    assert assess_record(anc(300), *temps).febrile


@pytest.mark.parametrize(("value", "unit", "read"), [
    # a body temperature no living patient has is a data problem, never a fever nor its absence (thresholds.toml R7,
    # POLICY: 10 to 50 C, wide of the extremes survived on record, 13.7 and 46.5 C)
    ("10", "Cel", True), ("9.99", "Cel", False), ("50", "Cel", True), ("50.01", "Cel", False),
    ("50", "[degF]", True), ("49.9", "[degF]", False), ("122", "[degF]", True), ("122.1", "[degF]", False),
    # as feeds get it wrong: a Fahrenheit reading sent as Celsius, a Celsius reading sent as Fahrenheit
    ("98.6", "Cel", False), ("101.5", "Cel", False), ("38.5", "[degF]", False), ("36.8", "[degF]", False),
    ("98.6", "[degF]", True), ("38.5", "Cel", True),
])
def test_r7_a_temperature_no_living_patient_has_is_a_data_problem(assess_record: AssessFn, value: str, unit: str,
                                                                   read: bool) -> None:
    result = assess_record(anc(300), temperature(value, unit))
    problems = [p for p in result.data_problems if p.role is Role.TEMPERATURE]
    if read:
        assert not problems
    else:
        assert [(p.problem, p.sent, p.unit) for p in problems] == [(Problem.NOT_A_BODY_TEMPERATURE, value, unit)]
        assert not result.febrile and result.finding is Finding.NEUTROPENIA  # (it was febrile neutropenia at 98.6)


def test_r7_a_temperature_no_living_patient_has_neither_makes_nor_breaks_a_sustained_fever(
        assess_record: AssessFn) -> None:
    temps = [temperature("38.1", when=ago(minutes=90)), temperature("37.9", "[degF]", when=ago(minutes=60)),
             temperature("38.1", when=ago(minutes=30))]
    assert assess_record(anc(300), *temps).febrile
    assert not assess_record(anc(300), temperature("38.1", when=ago(minutes=90)),
                             temperature("100.4", when=ago(minutes=30))).febrile


@pytest.mark.parametrize(("age", "febrile"), [
    ({"hours": 24}, True), ({"hours": 24, "minutes": 1}, False),
    # dated after now (a clock a minute ahead of the service's, a time charted rounded up): taken as now
    ({"minutes": -1}, True), ({"minutes": -15}, True),
])
def test_r7_fever_window_is_24_hours(assess_record: AssessFn, age: dict[str, float], febrile: bool) -> None:
    assert assess_record(anc(300), temperature("39.0", when=ago(**age))).febrile is febrile


def test_r7_route_is_reported_never_corrected(assess_record: AssessFn) -> None:
    """An axillary 38.2 C is not 'corrected' up to 38.7: no single-reading fever."""
    result = assess_record(anc(300), temperature("38.2", code="8328-7"))
    assert not result.febrile
    rectal = assess_record(anc(300), temperature("38.4", code="8332-9"))
    assert rectal.fever is not None and rectal.fever.highest.route == "rectal"


# ANC with fever, no chemotherapy: < 500 FN; 500-999 fever with neutropenia; >= 1000 the plain card (febrile).
@pytest.mark.parametrize(("value", "finding"), [
    (499, Finding.FEBRILE_NEUTROPENIA), (500, Finding.FEVER_WITH_NEUTROPENIA),
    (999, Finding.FEVER_WITH_NEUTROPENIA), (1000, Finding.NEUTROPENIA), (1500, None),
])
def test_r7_anc_edges_with_fever(assess_record: AssessFn, value: int, finding: Finding | None) -> None:
    result = assess_record(anc(value), temperature("38.5"))
    assert result.finding is finding
    assert result.febrile


@pytest.mark.parametrize(("value", "finding"), [(499, Finding.NEUTROPENIA), (999, Finding.NEUTROPENIA)])
def test_r7_no_fever_no_fn(assess_record: AssessFn, value: int, finding: Finding) -> None:
    result = assess_record(anc(value), temperature("38.2"))
    assert result.finding is finding and not result.febrile


# Chemotherapy proxy: ANC < 1000 with an antineoplastic given or started 3 to 14 days before (calendar days).
@pytest.mark.parametrize(("days", "finding"), [
    (2, Finding.FEVER_WITH_NEUTROPENIA), (3, Finding.FEBRILE_NEUTROPENIA),
    (14, Finding.FEBRILE_NEUTROPENIA), (15, Finding.FEVER_WITH_NEUTROPENIA),
])
def test_r7_chemotherapy_window_edges(assess_record: AssessFn, days: int, finding: Finding) -> None:
    dose = medication("MedicationAdministration", "40048", ago(days=days))
    result = assess_record(anc(999), temperature("38.5"), dose)
    assert result.finding is finding


@pytest.mark.parametrize(("value", "finding"), [(999, Finding.FEBRILE_NEUTROPENIA), (1000, Finding.NEUTROPENIA)])
def test_r7_chemotherapy_proxy_needs_anc_below_1000(assess_record: AssessFn, value: int, finding: Finding) -> None:
    dose = medication("MedicationAdministration", "40048", ago(days=9))
    assert assess_record(anc(value), temperature("38.5"), dose).finding is finding


@pytest.mark.parametrize(("resources", "finding"), [
    # R7: fever now, last ANC < 500 older than 7 days -> possible FN
    ([anc(499, when=ago(days=8))], Finding.POSSIBLE_FEBRILE_NEUTROPENIA),
    ([anc(500, when=ago(days=8))], Finding.NO_CURRENT_ANC),
    # "older than 7 days" has no upper bound in R7: older than R6's 90-day look-back still counts with a fever
    ([anc(499, when=ago(days=91))], Finding.POSSIBLE_FEBRILE_NEUTROPENIA),
    ([anc(300, when=ago(days=400))], Finding.POSSIBLE_FEBRILE_NEUTROPENIA),
    ([anc(500, when=ago(days=91))], None),
    ([anc(300, when=ago(days=400)), anc(2500, when=ago(days=200))], None),
    # a newer normal result: no possible FN
    ([anc(300, when=ago(days=20)), anc(2500, when=ago(days=10))], None),
    # safer reading of the proxy: stale ANC < 1000, or no ANC at all, 3-14 days after chemotherapy
    ([anc(800, when=ago(days=8)), medication("MedicationAdministration", "3002", ago(days=5))],
     Finding.POSSIBLE_FEBRILE_NEUTROPENIA),
    ([medication("MedicationAdministration", "3002", ago(days=5))], Finding.POSSIBLE_FEBRILE_NEUTROPENIA),
    ([], None),
])
def test_r7_possible_febrile_neutropenia(assess_record: AssessFn, resources: list[dict[str, Any]],
                                         finding: Finding | None) -> None:
    result = assess_record(*resources, temperature("38.6"))
    assert result.finding is finding


def _undated(resource: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in resource.items() if k != "effectiveDateTime"}


@pytest.mark.parametrize(("resources", "finding"), [
    ([_undated(anc(499))], Finding.POSSIBLE_FEBRILE_NEUTROPENIA),  # no time at all
    ([anc(499, when=ago(days=-365 * 36))], Finding.POSSIBLE_FEBRILE_NEUTROPENIA),  # dated 2062: read as undated
    ([_undated(anc(500))], Finding.NO_CURRENT_ANC),  # 500: not below R7's 500
    # a dated one of 2,500 twenty days ago may be older or newer: it rules the undated 300 out no more than nothing
    ([_undated(anc(300)), anc(2500, when=ago(days=20))], Finding.POSSIBLE_FEBRILE_NEUTROPENIA),
    ([_undated(anc(300)), anc(2500, when=ago(days=1))], None),  # a current ANC: that one is read (R6)
])
def test_r7_fever_with_an_anc_below_500_that_no_time_places(assess_record: AssessFn, resources: list[dict[str, Any]],
                                                            finding: Finding | None) -> None:
    """R7, the safer reading of "an ANC < 500 that is older than 7 days (no newer result)": fever now and an ANC below
    500 no time places -- it may be that old, or newer -- is possible febrile neutropenia: get an urgent CBC."""
    result = assess_record(*resources, temperature("38.6"))
    assert result.finding is finding


# The classic presentation: fever days after a dose, and only the count taken before it -- normal, as it had to be
# for the dose to be given. A count from before the dose says nothing of its nadir: R7's proxy ("expected to fall
# below 500 within 48 h") cannot be judged on it, so, as with no count at all (the safer reading), an urgent CBC.
@pytest.mark.parametrize(("anc_days", "value", "dose_days", "finding"), [
    (6, 2500, 5, Finding.POSSIBLE_FEBRILE_NEUTROPENIA),  # the pre-dose count, current by R6
    (5, 2500, 5, Finding.POSSIBLE_FEBRILE_NEUTROPENIA),  # taken at the moment of the dose: not after it
    (4, 2500, 5, None),  # a count after the dose: R7 as written (not below 1000: no FN)
    (6, 999, 5, Finding.FEBRILE_NEUTROPENIA),  # already below 1000 before the dose: FN by the proxy
    (6, 499, 5, Finding.FEBRILE_NEUTROPENIA),
    (9, 2500, 12, Finding.POSSIBLE_FEBRILE_NEUTROPENIA),  # after the dose, but no current count: the count now?
    (3, 2500, 2, None), (16, 2500, 15, None),  # the dose outside the 3-14 day window
])
def test_r7_fever_after_chemotherapy_with_no_count_since_the_dose(assess_record: AssessFn, anc_days: int, value: int,
                                                                 dose_days: int, finding: Finding | None) -> None:
    dose = medication("MedicationAdministration", "40048", ago(days=dose_days))
    result = assess_record(anc(value, when=ago(days=anc_days)), temperature("38.6"), dose)
    assert result.finding is finding


def _wbc(per_ul: int, **when: float) -> dict[str, Any]:
    """A WBC with no differential: the ANC is at most it (R4 bound)."""
    return observation("6690-2", per_ul / 1000, "10*3/uL", when=ago(**(when or {"hours": 3})))


# An ANC known only as an upper bound (a WBC with no differential: at most the WBC, R4; a laboratory's "<1200") can
# rule FN in -- a bound below 500, or below 1000 after chemotherapy -- but never out: a count under 500 stays
# possible whatever the bound. With fever, as with no count at all (the safer reading of R7): possible FN, an urgent
# CBC with differential. (A WBC at or above the LLN says nothing of the ANC, R4: no bound at all.)
@pytest.mark.parametrize(("bound", "chemotherapy", "finding"), [
    (_wbc(499), False, Finding.FEBRILE_NEUTROPENIA),
    (_wbc(500), False, Finding.POSSIBLE_FEBRILE_NEUTROPENIA),  # was "moderate neutropenia with fever", a warning
    (_wbc(999), False, Finding.POSSIBLE_FEBRILE_NEUTROPENIA),
    (_wbc(1000), False, Finding.POSSIBLE_FEBRILE_NEUTROPENIA),  # was "mild neutropenia", info
    (_wbc(1499), False, Finding.POSSIBLE_FEBRILE_NEUTROPENIA),
    (_wbc(1500), False, None),
    (_wbc(999), True, Finding.FEBRILE_NEUTROPENIA),  # below 1000 3-14 days after chemotherapy
    (_wbc(1000), True, Finding.POSSIBLE_FEBRILE_NEUTROPENIA),  # was "mild neutropenia", info
    (_wbc(1499), True, Finding.POSSIBLE_FEBRILE_NEUTROPENIA),
    (anc(500, comparator="<"), False, Finding.FEBRILE_NEUTROPENIA),  # below 500 for certain
    (anc(500, comparator="<="), False, Finding.POSSIBLE_FEBRILE_NEUTROPENIA),
    (anc(1200, comparator="<"), False, Finding.POSSIBLE_FEBRILE_NEUTROPENIA),
    (anc(1000, comparator="<"), True, Finding.FEBRILE_NEUTROPENIA),
    (_wbc(900, days=10), False, Finding.POSSIBLE_FEBRILE_NEUTROPENIA),  # no current ANC: the last "may be below 500"
])
def test_r7_an_upper_bound_never_rules_febrile_neutropenia_out(assess_record: AssessFn, bound: dict[str, Any],
                                                               chemotherapy: bool, finding: Finding | None) -> None:
    dose = [medication("MedicationAdministration", "40048", ago(days=7))] if chemotherapy else []
    result = assess_record(bound, temperature("38.6"), *dose)
    assert result.finding is finding


def test_r7_fn_needs_a_current_anc_for_the_full_card(assess_record: AssessFn) -> None:
    result = assess_record(anc(300, when=ago(days=7)), temperature("38.6"))
    assert result.finding is Finding.FEBRILE_NEUTROPENIA
    assert result.current is not None


def test_r7_sustained_fever_reports_the_longest_run_of_many_readings(knowledge: Knowledge) -> None:
    """45,000 readings >= 38.0 C in the window (one a second), broken once by a 37.9: the longer run is reported,
    whole -- found in one pass (the search once copied the run at every reading: 13 s for this record)."""
    start = NOW - timedelta(hours=23)
    readings = [TemperatureReading(Decimal("37.9") if i == 15_000 else Decimal("38.1"), start + timedelta(seconds=i),
                                   "oral") for i in range(45_000)]
    fever = detect_fever(readings, NOW, knowledge)
    assert fever is not None and fever.rule is FeverRule.SUSTAINED
    assert fever.readings == tuple(readings[15_001:])


def _course(kind: str, start_days: float, end_days: float | str | None, status: str) -> dict[str, Any]:
    """Capecitabine (oral, taken daily) over a period: a MedicationStatement's effectivePeriod, or a
    MedicationRequest's dosage bounds; no end while it goes on."""
    end = {} if end_days is None else {"end": end_days if isinstance(end_days, str) else ago(days=end_days)}
    period = {"start": ago(days=start_days), **end}
    if kind == "MedicationStatement":
        return medication(kind, "194000", None, status=status, effectivePeriod=period)
    return medication(kind, "194000", ago(days=start_days), status=status,
                      dosageInstruction=[{"timing": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d",
                                                                "boundsPeriod": period}}}])


# R7 "an antineoplastic given or started 3 to 14 days before": a course given over a period -- daily oral
# chemotherapy -- was given on every day of it, so it is in the window when it ran at any time 3 to 14 days ago,
# whenever it started; with no end it runs while it is active.
@pytest.mark.parametrize(("kind", "start", "end", "status", "finding"), [
    ("MedicationStatement", 60, None, "active", Finding.FEBRILE_NEUTROPENIA),  # taken since two months ago
    ("MedicationRequest", 60, -30, "active", Finding.FEBRILE_NEUTROPENIA),  # ordered until a month from now
    ("MedicationStatement", 60, 10, "completed", Finding.FEBRILE_NEUTROPENIA),  # last taken 10 days ago
    ("MedicationStatement", 60, 3, "completed", Finding.FEBRILE_NEUTROPENIA),
    ("MedicationStatement", 60, 20, "completed", Finding.FEVER_WITH_NEUTROPENIA),  # last taken 20 days ago
    ("MedicationStatement", 60, None, "completed", Finding.FEVER_WITH_NEUTROPENIA),  # ended when? only its start
    ("MedicationStatement", 2, None, "active", Finding.FEVER_WITH_NEUTROPENIA),  # started 2 days ago: too early
    ("MedicationStatement", 3, None, "active", Finding.FEBRILE_NEUTROPENIA),
    ("MedicationStatement", 60, "garbage", "active", Finding.FEBRILE_NEUTROPENIA),  # an end that is no time: none
    ("MedicationRequest", 60, "garbage", "active", Finding.FEBRILE_NEUTROPENIA),
])
def test_r7_a_course_of_chemotherapy_is_given_on_every_day_of_it(assess_record: AssessFn, kind: str, start: int,
                                                                 end: int | str | None, status: str,
                                                                 finding: Finding) -> None:
    result = assess_record(anc(800), temperature("38.6"), _course(kind, start, end, status))
    assert result.finding is finding


@pytest.mark.parametrize(("period", "status", "finding"), [
    ({"start": ago(days=20), "end": ago(days=10)}, "completed", Finding.FEBRILE_NEUTROPENIA),  # ended 10 days ago
    ({"start": ago(days=20)}, "in-progress", Finding.FEBRILE_NEUTROPENIA),  # going on
    ({"start": ago(days=20)}, "completed", Finding.FEVER_WITH_NEUTROPENIA),  # ended when? only its start
    ({"start": ago(days=30), "end": ago(days=20)}, "completed", Finding.FEVER_WITH_NEUTROPENIA),
])
def test_r7_a_chemotherapy_procedure_over_a_period_counts_to_its_end(assess_record: AssessFn, period: dict[str, str],
                                                                     status: str, finding: Finding) -> None:
    """R8's chemotherapy Procedure (SNOMED CT 367336001) performed over a period -- a continuous infusion of days --
    was given until its end, like a course of a drug."""
    procedure = {"resourceType": "Procedure", "id": "chemo", "status": status,
                 "subject": {"reference": "Patient/pat-1"}, "performedPeriod": period,
                 "code": {"coding": [{"system": "http://snomed.info/sct", "code": "367336001"}]}}
    assert assess_record(anc(800), temperature("38.6"), procedure).finding is finding


def test_r8_the_clozapine_action_never_reads_a_count_older_than_the_look_back(assess_record: AssessFn) -> None:
    """R7 shows the last ANC however old; the clozapine label's action (R8) is for a count of the look-back."""
    clozapine = medication("MedicationRequest", "2626", ago(days=400))
    old = assess_record(anc(300, when=ago(days=200)), temperature("38.6"), clozapine)
    assert old.finding is Finding.POSSIBLE_FEBRILE_NEUTROPENIA and old.clozapine_action is None
    recent = assess_record(anc(300, when=ago(days=20)), temperature("38.6"), clozapine)
    assert recent.finding is Finding.POSSIBLE_FEBRILE_NEUTROPENIA and recent.clozapine_action is not None


@pytest.mark.parametrize(("authored", "duration", "finding"), [
    (20, {"value": 14, "unit": "days", "system": "http://unitsofmeasure.org", "code": "d"},
     Finding.FEBRILE_NEUTROPENIA),  # days 1-14 from 20 days ago: the last dose 6 days ago
    (20, {"value": 2, "unit": "wk", "system": "http://unitsofmeasure.org", "code": "wk"}, Finding.FEBRILE_NEUTROPENIA),
    (40, {"value": 14, "unit": "d", "system": "http://unitsofmeasure.org", "code": "d"},
     Finding.FEVER_WITH_NEUTROPENIA),  # the last dose 26 days ago
    # a length in no unit of time: the end cannot be read, so the dose, repeating twice a day, goes on while the
    # order is active (an end never guessed is never one that rules the window out)
    (20, {"value": 14, "unit": "doses"}, Finding.FEBRILE_NEUTROPENIA),
    (20, {"value": 99999, "unit": "a", "system": "http://unitsofmeasure.org", "code": "a"},
     Finding.FEBRILE_NEUTROPENIA),  # past the last day a date can name: no end, and the order is active
])
def test_r7_an_order_for_a_number_of_days_counts_to_its_last_day(assess_record: AssessFn, authored: int,
                                                                 duration: dict[str, Any], finding: Finding) -> None:
    """An order "for 14 days" (Timing.repeat.boundsDuration) from its date: capecitabine days 1-14 of a cycle."""
    order = medication("MedicationRequest", "194000", ago(days=authored),
                       dosageInstruction=[{"timing": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d",
                                                                 "boundsDuration": duration}}}])
    assert assess_record(anc(800), temperature("38.6"), order).finding is finding


@pytest.mark.parametrize(("status", "repeat", "authored", "finding"), [
    ("active", {"frequency": 2, "period": 1, "periodUnit": "d"}, 60, Finding.FEBRILE_NEUTROPENIA),  # twice a day
    ("active", {"period": 1, "periodUnit": "wk"}, 60, Finding.FEBRILE_NEUTROPENIA),  # weekly: a period alone repeats
    ("on-hold", {"frequency": 2, "period": 1, "periodUnit": "d"}, 60, Finding.FEBRILE_NEUTROPENIA),
    ("completed", {"frequency": 2, "period": 1, "periodUnit": "d"}, 60, Finding.FEVER_WITH_NEUTROPENIA),  # ended then
    ("stopped", {"frequency": 2, "period": 1, "periodUnit": "d"}, 60, Finding.FEVER_WITH_NEUTROPENIA),
    ("active", {"frequency": 1, "period": 1, "periodUnit": "d", "count": 1}, 60, Finding.FEVER_WITH_NEUTROPENIA),
    # no repeat: a dose on the order's date, and nothing said of the doses after it while it is active -- one may
    # fall 3-14 days ago (the safer reading: possible febrile neutropenia, an urgent CBC)
    ("active", {}, 60, Finding.POSSIBLE_FEBRILE_NEUTROPENIA),
    ("completed", {}, 60, Finding.FEVER_WITH_NEUTROPENIA),
    ("active", {"frequency": 2, "period": 1, "periodUnit": "d"}, 2, Finding.FEVER_WITH_NEUTROPENIA),  # day 2 of it
    ("active", {"frequency": 2, "period": 1, "periodUnit": "d"}, 3, Finding.FEBRILE_NEUTROPENIA),  # day 3
])
def test_r7_an_active_order_of_a_repeating_dose_is_given_to_now(assess_record: AssessFn, status: str,
                                                                 repeat: dict[str, Any], authored: int,
                                                                 finding: Finding) -> None:
    """Capecitabine ordered twice a day, with no bounds, 60 days ago: while the order is active (or on hold) the drug
    is being given -- a dose 3-14 days ago (R7) -- as a statement that it is still taken is read."""
    order = medication("MedicationRequest", "194000", ago(days=authored), status=status,
                       dosageInstruction=[{"timing": {"repeat": repeat}}])
    assert assess_record(anc(800), temperature("38.6"), order).finding is finding


@pytest.mark.parametrize(("status", "finding"), [
    ("active", Finding.FEBRILE_NEUTROPENIA),  # FHIR: "the medication is still being taken"
    ("completed", Finding.FEVER_WITH_NEUTROPENIA),  # taken then; nothing says since
])
def test_r7_a_statement_that_a_drug_is_still_taken_counts_to_now(assess_record: AssessFn, status: str,
                                                                 finding: Finding) -> None:
    statement = medication("MedicationStatement", "194000", ago(days=60), status=status)  # capecitabine, dated once
    assert assess_record(anc(800), temperature("38.6"), statement).finding is finding


@pytest.mark.parametrize(("fields", "finding", "start_recorded"), [
    ({"dateAsserted": ago(days=5)}, Finding.FEBRILE_NEUTROPENIA, True),  # taken 5 days ago, and still
    ({"dateAsserted": ago(days=2)}, Finding.FEVER_WITH_NEUTROPENIA, True),  # taken since 2 days ago: too early
    ({}, Finding.POSSIBLE_FEBRILE_NEUTROPENIA, False),  # taken now, since a day nothing records: may be in the window
])
def test_r7_a_statement_that_a_drug_is_still_taken_dated_by_its_assertion_or_by_nothing(
        assess_record: AssessFn, fields: dict[str, Any], finding: Finding, start_recorded: bool) -> None:
    """An active MedicationStatement with no effective[x]: dateAsserted dates it as effectiveDateTime would (taken
    then, and from then on while it is active); with no date at all the drug is taken now, from a start no record
    gives -- never guessed into the 3-14 day window, but a dose may fall there: possible febrile neutropenia."""
    statement = medication("MedicationStatement", "194000", None, status="active", **fields)
    result = assess_record(anc(800), temperature("38.6"), statement)
    assert result.finding is finding
    assert result.context is not None and result.context.chemotherapy is not None
    dose = result.context.chemotherapy
    assert dose.ongoing and dose.start_recorded is start_recorded and dose.last_days_before == 0


_STILL_ACTIVE = {"dosageInstruction": [{"text": "3 tablets twice daily on days 1-14 of each 21-day cycle"}]}


@pytest.mark.parametrize(("status", "labs", "finding"), [
    # no ANC in the current window: with an antineoplastic still ordered (its doses not dated), the safer reading of
    # the chemotherapy proxy -- as 3-14 days after a dose -- is an urgent CBC, whatever the last count was
    ("active", [anc(2500, when=ago(days=20))], Finding.POSSIBLE_FEBRILE_NEUTROPENIA),
    ("on-hold", [anc(2500, when=ago(days=20))], Finding.POSSIBLE_FEBRILE_NEUTROPENIA),
    ("active", [], Finding.POSSIBLE_FEBRILE_NEUTROPENIA),  # no ANC at all
    ("completed", [anc(2500, when=ago(days=20))], None),  # over: fever with a normal old count is no finding
    ("active", [anc(2500, when=ago(days=2))], None),  # a current normal count: not neutropenic
])
def test_r7_fever_with_no_current_anc_while_an_antineoplastic_is_still_ordered(
        assess_record: AssessFn, status: str, labs: list[dict[str, Any]], finding: Finding | None) -> None:
    order = medication("MedicationRequest", "194000", ago(days=120), status=status, **_STILL_ACTIVE)  # capecitabine
    assert assess_record(*labs, temperature("38.6"), order).finding is finding


@pytest.mark.parametrize(("value", "order", "finding"), [
    # ANC 800 and fever, capecitabine prescribed 120 days ago with a sig in words only: still active, its doses since
    # are nowhere dated -- one may fall 3-14 days ago, so febrile neutropenia is possible (critical, urgent CBC), as
    # with no current count; over ("completed"), it is moderate neutropenia with fever
    (800, {"status": "active", **_STILL_ACTIVE}, Finding.POSSIBLE_FEBRILE_NEUTROPENIA),
    (800, {"status": "completed", **_STILL_ACTIVE}, Finding.FEVER_WITH_NEUTROPENIA),
    (999, {"status": "active", **_STILL_ACTIVE}, Finding.POSSIBLE_FEBRILE_NEUTROPENIA),
    (1000, {"status": "active", **_STILL_ACTIVE}, Finding.NEUTROPENIA),  # R7's proxy reads below 1000: R5, mild
    (499, {"status": "active", **_STILL_ACTIVE}, Finding.FEBRILE_NEUTROPENIA),  # below 500: febrile neutropenia
    # a repeating dose is dated (twice a day since its order 120 days ago): in the window, febrile neutropenia
    (800, {"status": "active", "dosageInstruction": [{"timing": {"repeat": {"frequency": 2, "period": 1,
                                                                            "periodUnit": "d"}}}]},
     Finding.FEBRILE_NEUTROPENIA),
])
def test_r7_fever_with_a_count_below_1000_while_an_antineoplastic_order_of_undated_doses_is_active(
        assess_record: AssessFn, value: int, order: dict[str, Any], finding: Finding) -> None:
    prescription = medication("MedicationRequest", "194000", ago(days=120), **order)
    assert assess_record(anc(value), temperature("38.6"), prescription).finding is finding
