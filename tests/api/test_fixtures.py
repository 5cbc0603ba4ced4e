"""Every fixture scenario through the Flask app: the full response checked against its expected file."""

from __future__ import annotations

import json
import tomllib
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from cds_service.app import create_app
from cds_service.settings import Settings
from tests.contract import assert_cds_response

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "patient-view"
SCENARIOS = tomllib.loads((FIXTURES / "scenarios.toml").read_text())["scenario"]


def test_there_are_enough_scenarios() -> None:
    assert len(SCENARIOS) >= 15
    files = {p.name.split(".")[0] for p in FIXTURES.glob("*.json")}
    assert files == {s["name"] for s in SCENARIOS}, "every fixture file is in scenarios.toml and vice versa"


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s["name"] for s in SCENARIOS])
def test_fixture_response(scenario: dict[str, Any]) -> None:
    now: datetime = scenario["now"]
    app = create_app(Settings(), clock=lambda: now)
    request = json.loads((FIXTURES / f"{scenario['name']}.request.json").read_text())
    expected = json.loads((FIXTURES / f"{scenario['name']}.expected.json").read_text())["cards"]

    response = app.test_client().post("/cds-services/neutropenia-patient-view", json=request)

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    cards = assert_cds_response(response.get_json())
    assert len(cards) == len(expected), [c["summary"] for c in cards]
    for card, want in zip(cards, expected, strict=True):
        assert card["summary"] == want["summary"]
        assert card["indicator"] == want["indicator"]
        assert card["source"]["label"] == want["source"]["label"]
        assert card["extension"]["neutropenia-cds"] == want["extension"]["neutropenia-cds"]
        for text in want["detailIncludes"]:
            assert text in card["detail"], f"{text!r} not in detail:\n{card['detail']}"
    assert len({c["uuid"] for c in cards}) == len(cards)
