"""R5: the lower limit of normal for the age at collection, the severity band, the profound flag, the CTCAE grade."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from cds_service.clinical.model import AgeLimit, AncMeasurement, Classified, LlnBasis, Severity
from cds_service.knowledge import Duration, Thresholds


def birth_instant(birth_date: date) -> datetime:
    """R5: a date-only birthDate counts from midnight."""
    return datetime.combine(birth_date, time.min, tzinfo=UTC)


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February: the earlier birthday, so the older-age limit applies no later than it should
        return day.replace(year=day.year + years, day=28)


def reached(birth: datetime, at: datetime, duration: Duration) -> bool:
    """True when the age at `at` is at least `duration` (hours and days exact, years by the calendar)."""
    if duration.unit == "h":
        return at >= birth + timedelta(hours=duration.amount)
    if duration.unit == "d":
        return at >= birth + timedelta(days=duration.amount)
    return at >= datetime.combine(_add_years(birth.date(), duration.amount), birth.timetz())


def _latest_possible_birth(birth_date: date, precision: str) -> date:
    if precision == "year":
        return date(birth_date.year, 12, 31)
    if precision == "month":
        next_month = date(birth_date.year + birth_date.month // 12, birth_date.month % 12 + 1, 1)
        return next_month - timedelta(days=1)
    return birth_date


def age_limit(
    birth_date: date | None,
    precision: str,
    birth_weight_g: Decimal | None,
    at: datetime,
    thresholds: Thresholds,
) -> AgeLimit:
    """R5: the LLN that applies to a collection at `at`.

    No birthDate, or one after the collection: adult rules, the card says the age was unknown. A partial
    birthDate is used only when even the latest possible birth makes the patient old enough for the last row;
    otherwise the age is treated as unknown.
    """
    general = AgeLimit(thresholds.general_lln, LlnBasis.AGE_UNKNOWN, None)
    if birth_date is None:
        return general
    if precision != "day":
        youngest = birth_instant(_latest_possible_birth(birth_date, precision))
        last_band = thresholds.age_bands[-2].below if len(thresholds.age_bands) > 1 else None
        if last_band is None or not reached(youngest, at, last_band):
            return general
        birth = youngest
    else:
        birth = birth_instant(birth_date)
    if at < birth:
        return general
    age_days = (at - birth).days
    if (
        birth_weight_g is not None
        and birth_weight_g < thresholds.vlbw_birth_weight_below_g
        and reached(birth, at, thresholds.vlbw_from)
        and not reached(birth, at, thresholds.vlbw_until)
    ):
        return AgeLimit(thresholds.vlbw_lln, LlnBasis.VERY_LOW_BIRTH_WEIGHT, age_days)
    missing_weight = birth_weight_g is None and not reached(birth, at, thresholds.birth_weight_relevant_until)
    for band in thresholds.age_bands:
        if band.below is None or not reached(birth, at, band.below):
            return AgeLimit(band.lln, band.basis, age_days, birth_weight_missing=missing_weight)
    raise AssertionError("the knowledge loader guarantees a last age band for every older age")


def is_below(value: Decimal, comparator: str | None, limit: Decimal) -> bool:
    """True when the true count is certainly below `limit`; '<v' means below v, so v == limit counts."""
    return value < limit or (comparator == "<" and value == limit)


def severity(value: Decimal, comparator: str | None, lln: Decimal, thresholds: Thresholds) -> Severity:
    """R5 bands: none >= LLN; mild 1000 <= ANC < LLN; moderate 500 <= ANC < 1000; severe < 500."""
    if not is_below(value, comparator, lln):
        return Severity.NONE
    if not is_below(value, comparator, thresholds.mild_from):
        return Severity.MILD
    if not is_below(value, comparator, thresholds.moderate_from):
        return Severity.MODERATE
    return Severity.SEVERE


def ctcae_grade(
    value: Decimal, comparator: str | None, lab_low: Decimal | None, thresholds: Thresholds
) -> int | None:
    """R5: CTCAE v5.0 'Neutrophil count decreased'. None when G1 is indeterminate (no lab lower limit)."""
    if is_below(value, comparator, thresholds.ctcae_g3_from):
        return 4
    if is_below(value, comparator, thresholds.ctcae_g2_from):
        return 3
    if is_below(value, comparator, thresholds.ctcae_g1_from):
        return 2
    if lab_low is None:
        return None
    return 1 if is_below(value, comparator, lab_low) else 0


def classify(anc: AncMeasurement, limit: AgeLimit, thresholds: Thresholds) -> Classified:
    """One ANC against its age limit (R5)."""
    return Classified(
        anc=anc,
        limit=limit,
        severity=severity(anc.value, anc.comparator, limit.lln, thresholds),
        profound=is_below(anc.value, anc.comparator, thresholds.profound_below),
        ctcae_grade=ctcae_grade(anc.value, anc.comparator, anc.reference_low, thresholds),
    )
