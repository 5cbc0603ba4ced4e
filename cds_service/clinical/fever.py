"""R7: fever now -- one reading >= 38.3 C, or >= 38.0 C sustained over an hour -- reported with its route."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from itertools import groupby
from operator import attrgetter

from cds_service.clinical.model import (
    Fever,
    FeverRule,
    LabResult,
    TemperatureReading,
)
from cds_service.clinical.units import LOWER_BOUND_COMPARATORS
from cds_service.knowledge import Knowledge
from cds_service.knowledge.vocabulary import Role

_AT = attrgetter("at")


def temperature_readings(results: Iterable[LabResult], knowledge: Knowledge) -> list[TemperatureReading]:
    """Dated temperatures in Celsius (R3.5, unrounded), oldest first (readings of one moment by value and route,
    never by the order they were sent in), each with its route as recorded. A lower bound (">42.0": above the
    thermometer's range) is a reading where it proves a fever, at least 38.0 C; it cannot say a temperature is below
    one, and an upper bound cannot say it is a fever: they are left out."""
    routes = knowledge.codes.temperature_route
    fever_from = knowledge.thresholds.sustained_fever_from_c
    readings = [
        TemperatureReading(r.value, r.collected_at, routes.get(r.loinc, "site not stated"), r.comparator)
        for r in results
        if r.role is Role.TEMPERATURE and r.collected_at is not None and (
            r.comparator is None or (r.comparator in LOWER_BOUND_COMPARATORS and r.value >= fever_from))
    ]
    return sorted(readings, key=lambda r: (r.at, r.celsius, r.route, r.comparator or ""))


def detect_fever(readings: list[TemperatureReading], now: datetime, knowledge: Knowledge) -> Fever | None:
    """R7 fever within the POLICY window before `now`; None when neither definition is met."""
    if not readings:
        return None
    thresholds = knowledge.thresholds
    since = now - timedelta(hours=thresholds.fever_window_hours)
    # and a reading dated after `now`: a temperature is never taken in the future, so its time is a clock ahead of
    # this service's or a time charted rounded up -- it is taken as now, however far ahead (an ANC dated further
    # ahead than any clock error is read as undated, R6; a fever is never let go so)
    window = [r for r in readings if r.at >= since]
    single = [r for r in window if r.celsius >= thresholds.single_fever_from_c]
    if single:
        return Fever(FeverRule.SINGLE, tuple(single))
    # Sustained: readings >= 38.0 C spanning >= 60 minutes with none below 38.0 C between them -- strictly between:
    # one below 38.0 taken at the same moment as the first or the last of them (another site, another device) is not
    # between them. So the answer never depends on the order in which readings of one moment were sent (the safer
    # reading of R7). The longest such run is reported, found in one pass over the moments.
    span = timedelta(minutes=thresholds.sustained_minutes)
    fever_from = thresholds.sustained_fever_from_c
    start: int | None = None  # where the current run begins in `window`: the first reading of its first moment
    count = 0  # the run's readings >= 38.0 C so far
    best: tuple[int, int, int] | None = None  # (readings >= 38.0 C, begin, end) of the longest qualifying run
    index = 0
    for at, together in groupby(window, key=_AT):
        moment = list(together)
        high = sum(1 for r in moment if r.celsius >= fever_from)
        end = index + len(moment)
        if high and start is not None and at - window[start].at >= span and count + high > (best[0] if best else 1):
            best = (count + high, start, end)
        if high < len(moment):  # one below 38.0 C at this moment: a later run may begin here, none earlier
            start, count = (index, high) if high else (None, 0)
        elif start is None:
            start, count = index, high
        else:
            count += high
        index = end
    if best is None:
        return None
    return Fever(FeverRule.SUSTAINED, tuple(r for r in window[best[1]:best[2]] if r.celsius >= fever_from))
