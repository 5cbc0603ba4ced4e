"""The site's time zone: a FHIR date with no time is a day of the site's calendar, R7/R8's "3 to 14 days before" are
its calendar days, and R5's date-only birthDate counts from its midnight. NOW is 2026-11-25T12:00Z: 07:00 in New
York (EST, UTC-5), 04:00 in Los Angeles (PST, UTC-8), 21:00 in Tokyo (UTC+9)."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from cds_service.clinical.assessment import assess
from cds_service.clinical.model import Assessment, Finding
from cds_service.fhir.records import build_record
from cds_service.fhir.resources import instant
from cds_service.knowledge import Knowledge
from tests.builders import NOW, PATIENT_ID, ago, anc, medication, patient, temperature

NEW_YORK, LOS_ANGELES, TOKYO = ZoneInfo("America/New_York"), ZoneInfo("America/Los_Angeles"), ZoneInfo("Asia/Tokyo")


def _at_site(knowledge: Knowledge, zone: tzinfo, *resources: dict[str, Any], birth_date: str = "1980-05-01",
             now: datetime = NOW) -> Assessment:
    site = knowledge.configured(7, 90, zone=zone)
    return assess(build_record(PATIENT_ID, patient(birth_date), list(resources), site), now, site)


@pytest.mark.parametrize(("value", "zone", "expected"), [
    ("2026-11-22", NEW_YORK, datetime(2026, 11, 22, 5, tzinfo=UTC)),  # midnight EST
    ("2026-07-01", NEW_YORK, datetime(2026, 7, 1, 4, tzinfo=UTC)),  # midnight EDT
    ("2026-11-22", TOKYO, datetime(2026, 11, 21, 15, tzinfo=UTC)),
    ("2026-11-22", UTC, datetime(2026, 11, 22, tzinfo=UTC)),
    ("2026-11-22T10:00:00", NEW_YORK, datetime(2026, 11, 22, 15, tzinfo=UTC)),  # a time with no offset: the site's
    ("2026-11-22T10:00:00+01:00", NEW_YORK, datetime(2026, 11, 22, 9, tzinfo=UTC)),  # an offset is the time's own
    ("2026-11-22T10:00:00Z", TOKYO, datetime(2026, 11, 22, 10, tzinfo=UTC)),
])
def test_a_date_is_a_day_of_the_sites_calendar(value: str, zone: tzinfo, expected: datetime) -> None:
    assert instant(value, zone) == expected


# R7: ANC < 1000 with an antineoplastic given 3 to 14 days before is febrile neutropenia; outside it, ANC 500-999
# with fever is "moderate neutropenia with fever". The days are the site's calendar days.
FEVER, LOW = temperature("38.6"), anc(800, when=ago(hours=3))


@pytest.mark.parametrize(("given", "zone", "finding"), [
    # Nov 22 20:00 in New York (Nov 23 01:00 UTC): 3 days before Nov 25 in New York, 2 in UTC
    ("2026-11-22T20:00:00-05:00", NEW_YORK, Finding.FEBRILE_NEUTROPENIA),
    ("2026-11-22T20:00:00-05:00", UTC, Finding.FEVER_WITH_NEUTROPENIA),
    # Nov 10 22:00 in New York (Nov 11 03:00 UTC): 15 days before in New York, 14 in UTC
    ("2026-11-10T22:00:00-05:00", NEW_YORK, Finding.FEVER_WITH_NEUTROPENIA),
    ("2026-11-10T22:00:00-05:00", UTC, Finding.FEBRILE_NEUTROPENIA),
    # a date alone is that day wherever the site is: 14 days before Nov 25, 3 days before
    ("2026-11-11", NEW_YORK, Finding.FEBRILE_NEUTROPENIA),
    ("2026-11-10", NEW_YORK, Finding.FEVER_WITH_NEUTROPENIA),
    ("2026-11-22", TOKYO, Finding.FEBRILE_NEUTROPENIA),
    ("2026-11-23", TOKYO, Finding.FEVER_WITH_NEUTROPENIA),
    ("2026-11-11", LOS_ANGELES, Finding.FEBRILE_NEUTROPENIA),
])
def test_r7_the_chemotherapy_window_counts_the_sites_calendar_days(knowledge: Knowledge, given: str, zone: tzinfo,
                                                                   finding: Finding) -> None:
    dose = medication("MedicationAdministration", "3002", given)  # cyclophosphamide
    assert _at_site(knowledge, zone, LOW, FEVER, dose).finding is finding


@pytest.mark.parametrize(("zone", "lln"), [(LOS_ANGELES, 1800), (UTC, 1500)])
def test_r5_a_date_only_birth_date_counts_from_the_sites_midnight(knowledge: Knowledge, zone: tzinfo,
                                                                  lln: int) -> None:
    """Born on Nov 22 in Los Angeles: midnight there is Nov 22 08:00 UTC, so a count on Nov 25 at 07:00 UTC is taken
    at 71 hours of age (R5: under 72 hours, 1800); counted from midnight UTC it would be 79 hours (1500)."""
    result = _at_site(knowledge, zone, anc(1600, when="2026-11-25T07:00:00Z"), birth_date="2026-11-22")
    assert result.current is not None and result.current.limit.lln == Decimal(lln)
    assert result.finding is (Finding.LOW_FOR_AGE if lln == 1800 else None)


def test_r5_hours_of_age_are_real_hours_across_a_clock_change(knowledge: Knowledge) -> None:
    """Born on Nov 1, 2026 in New York, the night the clocks go back an hour: midnight there is 04:00 UTC, and 72
    hours later is Nov 4 04:00 UTC (Nov 3 23:00 on the clock). A count at 04:30 UTC is taken at 72.5 hours of age:
    R5's 1500 (72 hours to 2 weeks), not the 1800 of the first 72 hours."""
    result = _at_site(knowledge, NEW_YORK, anc(1600, when="2026-11-04T04:30:00Z"), birth_date="2026-11-01",
                      now=datetime(2026, 11, 4, 6, tzinfo=UTC))
    assert result.current is not None and result.current.limit.lln == Decimal(1500)
    assert result.finding is None


@pytest.mark.parametrize(("birth_date", "zone"), [("0001-01-01", TOKYO), ("9999-12-31", LOS_ANGELES)])
def test_r5_a_birth_date_at_the_ends_of_the_calendar_is_read_in_any_zone(knowledge: Knowledge, birth_date: str,
                                                                        zone: tzinfo) -> None:
    """Midnight of 0001-01-01 in Tokyo, or of 9999-12-31 in Los Angeles, is no instant in UTC: never an error. The
    first is as old as a patient can be (adult limits); the second is after the count (age unknown: adult limits)."""
    result = _at_site(knowledge, zone, anc(1200), birth_date=birth_date)
    assert result.current is not None and result.current.limit.lln == Decimal(1500)
