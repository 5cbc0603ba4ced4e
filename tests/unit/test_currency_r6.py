"""R6: current window, stale results in the look-back, and the trend of the last ANCs."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cds_service.clinical.assessment import assess
from cds_service.clinical.model import Finding, Trend
from cds_service.fhir.records import build_record
from cds_service.knowledge import Knowledge
from cds_service.knowledge.vocabulary import Severity
from tests.builders import NOW, PATIENT_ID, ago, anc, patient
from tests.conftest import AssessFn


@pytest.mark.parametrize(("age", "finding"), [
    ({"days": 7}, Finding.NEUTROPENIA),  # collected exactly 7 days ago: still current
    ({"days": 7, "minutes": 1}, Finding.NO_CURRENT_ANC),
    ({"days": 90}, Finding.NO_CURRENT_ANC),  # the look-back is 90 days
    ({"days": 90, "minutes": 1}, None),
])
def test_r6_current_window_and_look_back(assess_record: AssessFn, age: dict[str, float],
                                         finding: Finding | None) -> None:
    result = assess_record(anc(420, when=ago(**age)))
    assert result.finding is finding
    if finding is Finding.NO_CURRENT_ANC:
        assert result.last_abnormal is not None and result.last_abnormal.severity is Severity.SEVERE


def test_r6_stale_normal_result_gives_no_card(assess_record: AssessFn) -> None:
    assert assess_record(anc(2500, when=ago(days=20))).finding is None


def test_r6_stale_card_speaks_of_the_last_result_only(assess_record: AssessFn) -> None:
    """An abnormal ANC followed by a normal one, both stale: the last one was normal, no card."""
    result = assess_record(anc(300, when=ago(days=40)), anc(2500, when=ago(days=20)))
    assert result.finding is None


def test_r6_current_window_is_a_setting(knowledge: Knowledge, assess_record: AssessFn) -> None:
    wider = knowledge.configured(current_window_days=14, lookback_days=90)
    record = build_record(PATIENT_ID, patient(), [anc(420, when=ago(days=10))], wider)
    assert assess(record, NOW, wider).finding is Finding.NEUTROPENIA
    assert assess_record(anc(420, when=ago(days=10))).finding is Finding.NO_CURRENT_ANC


@pytest.mark.parametrize(("values", "direction"), [
    # falling: latest < 75 % of the previous
    ((2000, 1499), Trend.FALLING),
    ((2000, 1500), Trend.STABLE),  # exactly 75 %: not falling
    # recovering: latest > 133 % of the previous, and the previous was below the LLN
    ((300, 400), Trend.RECOVERING),  # 133.3 %
    ((300, 399), Trend.STABLE),  # exactly 133 %
    ((1600, 2200), Trend.STABLE),  # previous was normal
    # recovered: a nadir followed by a count above the LLN
    ((1200, 300, 1600), Trend.RECOVERED),
    ((900, 1000, 950), Trend.STABLE),
])
def test_r6_trend(assess_record: AssessFn, values: tuple[int, ...], direction: Trend) -> None:
    resources = [anc(v, when=ago(days=2 * (len(values) - i))) for i, v in enumerate(values)]
    result = assess_record(*resources)
    assert result.trend is not None
    assert result.trend.direction is direction
    assert [p.anc.value for p in result.trend.points] == [Decimal(v) for v in values[-3:]]


def test_r6_trend_shows_at_most_three_values_within_30_days(assess_record: AssessFn) -> None:
    result = assess_record(anc(1000, when=ago(days=31)), anc(900, when=ago(days=20)), anc(800, when=ago(days=10)),
                           anc(700, when=ago(days=5)), anc(600, when=ago(days=1)))
    assert result.trend is not None
    assert [p.anc.value for p in result.trend.points] == [800, 700, 600]


def test_r6_no_trend_with_a_single_value(assess_record: AssessFn) -> None:
    assert assess_record(anc(420, when=ago(days=1)), anc(300, when=ago(days=31))).trend is None


# An ANC sent as an upper bound ("<300", or a WBC with no differential: the ANC is at most the WBC, R4) has a true
# count somewhere below it: a direction is given only when the bound makes it certain, else it is unknown. (A bound
# at or above the LLN is no ANC at all -- a data problem -- so never a point of the trend.)
@pytest.mark.parametrize(("points", "direction"), [
    # the latest a bound: falling only when the bound is certainly below 75 % of the previous
    (((2000, None), (1499, "<")), Trend.FALLING),
    (((2000, None), (1500, "<")), Trend.FALLING),  # below 1500: below 75 % for certain
    (((1800, None), (1350, "<")), Trend.FALLING),  # below 1350: below 75 % for certain
    (((1800, None), (1350, "<=")), Trend.UNKNOWN),  # may be 1350, exactly 75 %
    (((1600, None), (1400, "<")), Trend.UNKNOWN),  # may be 1399 (stable) or 100 (falling)
    (((300, None), (1200, "<=")), Trend.UNKNOWN),  # may be 1200 (recovering) or 100
    (((1200, None), (1400, "<")), Trend.UNKNOWN),
    # the previous a bound: recovering only when the latest is certainly above 133 % of it
    (((300, "<"), (400, None)), Trend.RECOVERING),
    (((300, "<"), (399, None)), Trend.RECOVERING),  # the previous below 300: 399 is above 133 % of it
    (((300, "<="), (399, None)), Trend.UNKNOWN),  # the previous may be 300: 399 is exactly 133 %
    (((300, "<"), (350, None)), Trend.UNKNOWN),  # may be stable (from 299) or recovering (from 100)
    (((1400, "<"), (1000, None)), Trend.UNKNOWN),  # "below 1400" then 1000: falling only if it was above 1333
    (((900, "<"), (850, "<")), Trend.UNKNOWN),
])
def test_r6_trend_of_upper_bounds(assess_record: AssessFn, points: tuple[tuple[int, str | None], ...],
                                  direction: Trend) -> None:
    resources = [anc(v, comparator=c, when=ago(days=2 * (len(points) - i))) for i, (v, c) in enumerate(points)]
    result = assess_record(*resources)
    assert result.trend is not None
    assert result.trend.direction is direction


def _wbc(per_ul: int, **when: float) -> dict[str, object]:
    """A WBC with no differential: the ANC is at most it (R4 bound)."""
    return {**anc(per_ul / 1000, unit="10*3/uL", when=ago(**when)),
            "code": {"coding": [{"system": "http://loinc.org", "code": "6690-2"}]}}


def test_r6_a_wbc_bound_after_a_severe_anc_is_no_recovery(assess_record: AssessFn) -> None:
    """ANC 300, then two days later a WBC of 1,200 with no differential: the ANC is at most 1,200 and may still be
    300 -- the trend says nothing of its direction (it said "recovering")."""
    result = assess_record(anc(300, when=ago(days=2)), _wbc(1200, hours=2))
    assert result.trend is not None
    assert [(p.anc.value, p.anc.comparator) for p in result.trend.points] == [(300, None), (1200, "<=")]
    assert result.trend.direction is Trend.UNKNOWN


# R6 "the latest usable ANC of the last 7 days" and R4's bound: a WBC with no differential says the ANC is at most the
# WBC -- when the last count measured in the window lies under that bound, nothing shows the count has risen, and that
# count, more severe than the bound's band, stays current (the safer reading; the bound's band was current). A bound
# under the count measured shows it fell: the bound is current, as is one in the count's own band.
@pytest.mark.parametrize(("measured", "bound", "current"), [
    ((300, {"days": 2}), (1200, {"hours": 2}), (300, None)),  # was "mild neutropenia: ANC <=1,200", info
    ((900, {"days": 2}), (1200, {"hours": 2}), (900, None)),  # moderate, not mild
    ((1100, {"days": 2}), (1400, {"hours": 2}), (1400, "<=")),  # both mild: the latest
    ((1600, {"days": 2}), (800, {"hours": 2}), (800, "<=")),  # the count fell below the measured one
    ((300, {"days": 8}), (1200, {"hours": 2}), (1200, "<=")),  # the count measured is no longer current
    ((300, {"hours": 2}), (1200, {"days": 2}), (300, None)),  # the count measured is the latest
])
def test_r6_a_count_measured_stands_under_a_later_bound(assess_record: AssessFn, measured: tuple[int, dict[str, float]],
                                                          bound: tuple[int, dict[str, float]],
                                                          current: tuple[int, str | None]) -> None:
    result = assess_record(anc(measured[0], when=ago(**measured[1])), _wbc(bound[0], **bound[1]))
    assert result.current is not None
    assert (result.current.anc.value, result.current.anc.comparator) == current


def test_r6_a_count_measured_stands_under_a_later_bound_in_the_look_back_too(assess_record: AssessFn) -> None:
    """No current ANC: ANC 300 ten days ago, a WBC of 1,200 with no differential nine days ago -- the last one "was
    severe: 300" (it said "mild: <=1,200")."""
    result = assess_record(anc(300, when=ago(days=10)), _wbc(1200, days=9))
    assert result.current is None and result.finding is Finding.NO_CURRENT_ANC
    assert result.last_abnormal is not None and result.last_abnormal.anc.value == 300
    assert result.last_abnormal.severity is Severity.SEVERE


def test_r6_the_look_back_card_reads_only_the_look_back(assess_record: AssessFn) -> None:
    """ANC 300 a hundred days ago (past the 90-day look-back), a WBC of 1,200 with no differential eighty days ago:
    the card of R6 speaks of the bound, the last ANC of the look-back."""
    result = assess_record(anc(300, when=ago(days=100)), _wbc(1200, days=80))
    assert result.finding is Finding.NO_CURRENT_ANC
    assert result.last_abnormal is not None and result.last_abnormal.anc.comparator == "<="


@pytest.mark.parametrize(("ahead", "finding"), [
    ({"hours": 14}, None),  # a clock or a time zone ahead of the service's: the newest ANC, normal -- no card
    ({"hours": 14, "minutes": 1}, Finding.NEUTROPENIA),  # past what any zone's offset explains: it hides nothing
    ({"days": 365 * 36}, Finding.NEUTROPENIA),  # "2062" for "2026"
])
def test_r6_an_anc_dated_past_any_clock_error_never_hides_a_dated_one(assess_record: AssessFn,
                                                                        ahead: dict[str, float],
                                                                        finding: Finding | None) -> None:
    """R6, the safer reading: ANC 420 yesterday, and an ANC of 2,500 dated after now. No clock is more than 14 hours
    ahead of UTC (UTC+14), so a result dated later than that cannot be placed in time: it is read as undated --
    never current, never the latest -- and the 420 of yesterday is the current ANC."""
    result = assess_record(anc(420, when=ago(days=1)), anc(2500, when=ago(**{k: -v for k, v in ahead.items()})))
    assert result.finding is finding
    if finding is not None:
        assert result.current is not None and result.current.anc.value == 420


def test_r6_an_abnormal_anc_dated_past_any_clock_error_is_read_as_undated(assess_record: AssessFn) -> None:
    """R6: ANC 300 dated 36 years ahead, and nothing else: not current (no time can be trusted), but never let go --
    the card for an ANC that cannot be treated as current, with the value."""
    result = assess_record(anc(300, when=ago(days=-365 * 36)))
    assert result.finding is Finding.NO_CURRENT_ANC and result.current is None and not result.history
    assert [c.anc.value for c in result.undated_abnormal] == [300]
