"""R5: the lower limit of normal for the age at collection, the severity band, the profound flag, the CTCAE grade."""

from __future__ import annotations

import calendar
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from operator import le, lt

from cds_service.clinical.model import AgeLimit, AncMeasurement, Classified
from cds_service.knowledge import AgeBand, Duration, Thresholds
from cds_service.knowledge.vocabulary import LlnBasis, Severity

NEVER = datetime.max.replace(tzinfo=UTC)  # an age reached after the last instant a date holds: no collection is later


def birth_instant(birth_date: date, zone: tzinfo) -> datetime:
    """R5: a date-only birthDate counts from midnight -- in the site's time zone, where the date was written."""
    return datetime.combine(birth_date, time.min, tzinfo=zone)


def _utc(moment: datetime) -> datetime:
    """The instant in UTC; the first or last instant a date holds for one past either end in UTC (a birthDate of
    0001-01-01 east of UTC, or of 9999-12-31 west of it)."""
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        return NEVER if moment.year == 9999 else datetime.min.replace(tzinfo=UTC)


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February: the earlier birthday, so the older-age limit applies no later than it should
        return day.replace(year=day.year + years, day=28)


def _latest_possible_birth(birth_date: date, precision: str) -> date:
    if precision == "year":
        return date(birth_date.year, 12, 31)
    if precision == "month":
        return birth_date.replace(day=calendar.monthrange(birth_date.year, birth_date.month)[1])
    return birth_date


class AgeScale:
    """R5 for one patient: the birth instant and every age-band boundary computed once, so the limit of each
    collection is a few comparisons.

    No birthDate, or one after the collection: adult rules, the card says the age was unknown. A partial
    birthDate is used only when even the latest possible birth makes the patient old enough for the last row;
    otherwise the age is treated as unknown."""

    def __init__(self, birth_date: date | None, precision: str, birth_weight_g: Decimal | None,
                 thresholds: Thresholds, birth_time: datetime | None = None, zone: tzinfo = UTC) -> None:
        self.thresholds = thresholds
        self.general = AgeLimit(thresholds.general_lln, LlnBasis.AGE_UNKNOWN, None)
        self.birth: datetime | None = None
        self.known_from: datetime | None = None  # a partial birthDate tells the age only from this instant on
        self.vlbw: tuple[datetime, datetime] | None = None
        self.vlbw_lln = thresholds.vlbw_lln
        self.weight_relevant_until: datetime | None = None
        self.bands: tuple[tuple[datetime | None, AgeBand], ...] = ()
        if birth_date is None:
            return
        if precision != "day":
            youngest = birth_instant(_latest_possible_birth(birth_date, precision), zone)
            last_band = thresholds.age_bands[-2].below if len(thresholds.age_bands) > 1 else None
            if last_band is None:
                return
            birth, self.known_from = youngest, _instant_after(youngest, last_band)
        else:
            birth = birth_time or birth_instant(birth_date, zone)
        self.birth = _utc(birth)  # (every instant here in UTC: compared with results' times at no cost)
        if birth_weight_g is not None and birth_weight_g < thresholds.vlbw_birth_weight_below_g:
            self.vlbw = (_instant_after(birth, thresholds.vlbw_from), _instant_after(birth, thresholds.vlbw_until))
        self.weight_relevant_until = (
            _instant_after(birth, thresholds.birth_weight_relevant_until) if birth_weight_g is None else None)
        self.bands = tuple((_instant_after(birth, band.below) if band.below is not None else None, band)
                           for band in thresholds.age_bands)

    def limit_at(self, at: datetime) -> AgeLimit:
        """R5: the LLN that applies to a collection at `at`."""
        birth = self.birth
        if birth is None or at < birth or (self.known_from is not None and at < self.known_from):
            return self.general
        age_days = (at - birth).days
        if self.vlbw is not None and self.vlbw[0] <= at < self.vlbw[1]:
            return AgeLimit(self.vlbw_lln, LlnBasis.VERY_LOW_BIRTH_WEIGHT, age_days)
        missing_weight = self.weight_relevant_until is not None and at < self.weight_relevant_until
        for until, band in self.bands:
            if until is None or at < until:
                return AgeLimit(band.lln, band.basis, age_days, birth_weight_missing=missing_weight)
        raise AssertionError("the knowledge loader guarantees a last age band for every older age")


def age_scale(birth_date: date | None, precision: str, birth_weight_g: Decimal | None,
              thresholds: Thresholds, birth_time: datetime | None = None, zone: tzinfo = UTC) -> AgeScale:
    """The AgeScale of a birth: every age-band boundary worked out once per assessment (`zone`: the site's time
    zone, in which a date-only birthDate begins)."""
    return AgeScale(birth_date, precision, birth_weight_g, thresholds, birth_time, zone)


def _instant_after(birth: datetime, duration: Duration) -> datetime:
    """The first instant (in UTC) at which the age is `duration`: hours and days exact, whatever clock change falls
    between; years by the calendar of the birth's time zone. NEVER when that is after the last instant a date holds
    (a birthDate in year 9999)."""
    try:
        if duration.unit == "h":
            return _utc(birth) + timedelta(hours=duration.amount)
        if duration.unit == "d":
            return _utc(birth) + timedelta(days=duration.amount)
        return _utc(datetime.combine(_add_years(birth.date(), duration.amount), birth.timetz()))
    except (OverflowError, ValueError):  # (ValueError: a year past 9999)
        return NEVER


Below = Callable[[Decimal, Decimal], bool]  # below_for(comparator): (value, limit) -> certainly below


def is_below(value: Decimal, comparator: str | None, limit: Decimal) -> bool:
    """True when the true count is certainly below `limit`; '<v' means below v, so v == limit counts."""
    return value <= limit if comparator == "<" else value < limit


def below_for(comparator: str | None) -> Below:
    """is_below for values sent with `comparator`, as a comparison (value, limit) -> bool that R5 asks of one value
    against each of its limits."""
    return le if comparator == "<" else lt


def severity(value: Decimal, below: Below, lln: Decimal, thresholds: Thresholds) -> Severity:
    """R5 bands: none >= LLN; mild 1000 <= ANC < LLN; moderate 500 <= ANC < 1000; severe < 500."""
    if not below(value, lln):
        return Severity.NONE
    if not below(value, thresholds.mild_from):
        return Severity.MILD
    if not below(value, thresholds.moderate_from):
        return Severity.MODERATE
    return Severity.SEVERE


def ctcae_grade(value: Decimal, below: Below, lab_low: Decimal | None, thresholds: Thresholds) -> int | None:
    """R5: CTCAE v5.0 'Neutrophil count decreased'. None when G1 is indeterminate (no lab lower limit)."""
    if below(value, thresholds.ctcae_g3_from):
        return 4
    if below(value, thresholds.ctcae_g2_from):
        return 3
    if below(value, thresholds.ctcae_g1_from):
        return 2
    if lab_low is None:
        return None
    return 1 if below(value, lab_low) else 0


def classify(anc: AncMeasurement, limit: AgeLimit, thresholds: Thresholds) -> Classified:
    """One ANC against its age limit (R5)."""
    value, below = anc.value, below_for(anc.comparator)
    return Classified(
        anc=anc,
        limit=limit,
        severity=severity(value, below, limit.lln, thresholds),
        profound=below(value, thresholds.profound_below),
        ctcae_grade=ctcae_grade(value, below, anc.reference_low, thresholds),
    )
