"""Cards speak the site's time: the day and clock time of each result in its time zone, named by its abbreviation.
An ANC collected at 2026-11-25T03:00Z was collected on Nov 24 at 21:00 in Chicago (CST, UTC-6)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cds_service.app import create_app
from cds_service.settings import Settings
from tests.builders import NOW, anc, hook_request
from tests.contract import assert_cds_response


@pytest.mark.parametrize(("zone", "day", "when"), [
    ("America/Chicago", "Nov 24", "Nov 24 21:00 CST"),
    ("UTC", "Nov 25", "Nov 25 03:00 UTC"),
    ("Asia/Kolkata", "Nov 25", "Nov 25 08:30 IST"),
])
def test_a_card_gives_the_day_and_time_of_the_site(tmp_path: Path, zone: str, day: str, when: str) -> None:
    app = create_app(Settings(data_dir=tmp_path, time_zone=zone), clock=lambda: NOW)
    body = hook_request(anc(420, when="2026-11-25T03:00:00Z"))
    (card,) = assert_cds_response(app.test_client().post("/cds-services/neutropenia-patient-view", json=body)
                                  .get_json())
    assert card["summary"] == f"Severe neutropenia: ANC 420/uL ({day})"
    assert f"**ANC 420/uL**, {when}, reported by the laboratory." in card["detail"]
    assert card["extension"]["neutropenia-cds"]["observedAt"] == "2026-11-25T03:00:00+00:00"  # an instant, as sent
