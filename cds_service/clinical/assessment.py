"""R6 and the finding: from a patient's record and the time now to one Assessment."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from cds_service.clinical.anc import anc_measurements
from cds_service.clinical.labs import read_results
from cds_service.clinical.model import (
    Assessment,
    Classified,
    DataProblem,
    Finding,
    LabResult,
    PatientRecord,
    Problem,
    Role,
    Severity,
    Trend,
    TrendSummary,
)
from cds_service.clinical.severity import age_limit, classify
from cds_service.clinical.units import UPPER_BOUND_COMPARATORS
from cds_service.knowledge import Knowledge, Thresholds


def _birth_weight(results: tuple[LabResult, ...]) -> Decimal | None:
    weights = [r for r in results if r.role is Role.BIRTH_WEIGHT]
    if not weights:
        return None
    return max(weights, key=lambda r: (r.collected_at is not None, r.collected_at or datetime.min)).value


def trend(dated: list[Classified], now: datetime, thresholds: Thresholds) -> TrendSummary | None:
    """R6: with 2+ ANCs in the trend window, the last few and their direction."""
    since = now - timedelta(days=thresholds.trend_window_days)
    window = [c for c in dated if c.anc.collected_at is not None and c.anc.collected_at >= since]
    if len(window) < 2:
        return None
    latest, previous = window[-1], window[-2]
    if latest.severity is Severity.NONE and any(c.severity is not Severity.NONE for c in window[:-1]):
        direction = Trend.RECOVERED  # a nadir followed by recovery above the LLN
    elif (
        latest.anc.value > thresholds.recovering_above_fraction * previous.anc.value
        and previous.severity is not Severity.NONE
    ):
        direction = Trend.RECOVERING
    elif latest.anc.value < thresholds.falling_below_fraction * previous.anc.value:
        direction = Trend.FALLING
    else:
        direction = Trend.STABLE
    return TrendSummary(tuple(window[-thresholds.trend_values :]), direction)


def _finding_for(current: Classified, general_lln: Decimal) -> Finding | None:
    if current.severity is Severity.NONE:
        return None
    if current.severity is Severity.MILD and current.anc.value >= general_lln:
        return Finding.LOW_FOR_AGE  # below the limit for this age, not below the general one (neonates, R5)
    return Finding.NEUTROPENIA


def assess(record: PatientRecord, now: datetime, knowledge: Knowledge) -> Assessment:
    """Everything R1-R6 and R10 decide about a record at `now` (timezone-aware)."""
    thresholds = knowledge.thresholds
    read = read_results(record, knowledge)
    birth_weight = _birth_weight(read.results)
    problems = list(read.problems)
    classified: list[Classified] = []
    for anc in anc_measurements(read.results, knowledge):
        limit = age_limit(record.birth_date, record.birth_date_precision, birth_weight,
                          anc.collected_at or now, thresholds)
        item = classify(anc, limit, thresholds)
        if anc.comparator in UPPER_BOUND_COMPARATORS and item.severity is Severity.NONE:
            # "<2000" says nothing about how low the count is: a data problem, never "normal".
            problems.append(DataProblem(Problem.UPPER_BOUND_ABOVE_LIMIT, Role.ANC, "", None, anc.collected_at))
            continue
        classified.append(item)

    dated = sorted((c for c in classified if c.anc.collected_at is not None),
                   key=lambda c: c.anc.collected_at or now)
    undated_abnormal = tuple(c for c in classified if c.anc.collected_at is None and c.severity is not Severity.NONE)
    latest = dated[-1] if dated else None
    current_since = now - timedelta(days=thresholds.current_window_days)
    lookback_since = now - timedelta(days=thresholds.lookback_days)
    current = latest if latest and latest.anc.collected_at and latest.anc.collected_at >= current_since else None

    last_abnormal = None
    if current is not None:
        finding = _finding_for(current, thresholds.general_lln)
    elif (
        latest is not None
        and latest.anc.collected_at is not None
        and latest.anc.collected_at >= lookback_since
        and latest.severity is not Severity.NONE
    ):
        finding, last_abnormal = Finding.NO_CURRENT_ANC, latest
    elif undated_abnormal:
        finding = Finding.NO_CURRENT_ANC
    else:
        finding = None

    newest = latest.anc.collected_at if latest else None
    relevant = tuple(
        p for p in problems
        if (p.collected_at is None and current is None)
        or (p.collected_at is not None and p.collected_at >= lookback_since
            and (newest is None or p.collected_at > newest))
    )
    return Assessment(
        now=now,
        finding=finding,
        current=current,
        last_abnormal=last_abnormal,
        undated_abnormal=undated_abnormal,
        trend=trend(dated, now, thresholds),
        data_problems=relevant,
        ignored_other_patient=read.other_patient,
        general_lln=thresholds.general_lln,
    )
