"""R7: fever now -- one reading >= 38.3 C, or >= 38.0 C sustained over an hour -- reported with its route."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from operator import attrgetter

from cds_service.clinical.model import (
    Fever,
    FeverRule,
    LabResult,
    TemperatureReading,
)
from cds_service.knowledge import Knowledge
from cds_service.knowledge.vocabulary import Role

_AT = attrgetter("at")


def temperature_readings(results: Iterable[LabResult], knowledge: Knowledge) -> list[TemperatureReading]:
    """Dated temperatures in Celsius (R3.5, unrounded), oldest first, each with its route as recorded."""
    routes = knowledge.codes.temperature_route
    readings = [
        TemperatureReading(r.value, r.collected_at, routes.get(r.loinc, "site not stated"))
        for r in results
        if r.role is Role.TEMPERATURE and r.collected_at is not None and r.comparator is None
    ]
    return sorted(readings, key=_AT)


def detect_fever(readings: list[TemperatureReading], now: datetime, knowledge: Knowledge) -> Fever | None:
    """R7 fever within the POLICY window before `now`; None when neither definition is met."""
    if not readings:
        return None
    thresholds = knowledge.thresholds
    since = now - timedelta(hours=thresholds.fever_window_hours)
    window = [r for r in readings if since <= r.at <= now]
    single = [r for r in window if r.celsius >= thresholds.single_fever_from_c]
    if single:
        return Fever(FeverRule.SINGLE, tuple(single))
    # Sustained: a run of consecutive readings all >= 38.0 C (none below between them) spanning >= 60 minutes.
    # The longest such run is reported; found in one pass (each reading looked at once).
    span = timedelta(minutes=thresholds.sustained_minutes)
    start = 0  # where the current run of readings >= 38.0 C began
    best: tuple[int, int] | None = None  # [begin, end) of the longest qualifying run
    for index, reading in enumerate(window):
        if reading.celsius < thresholds.sustained_fever_from_c:
            start = index + 1
            continue
        length = index + 1 - start
        if length >= 2 and reading.at - window[start].at >= span and (best is None or length > best[1] - best[0]):
            best = (start, index + 1)
    return Fever(FeverRule.SUSTAINED, tuple(window[best[0]:best[1]])) if best else None
