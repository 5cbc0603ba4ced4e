"""Every fixture scenario of every hook through the Flask app: the full response checked against its expected file."""

from __future__ import annotations

import json
import tomllib
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from cds_service.app import create_app
from cds_service.settings import Settings
from tests.builders import anc, hook_request
from tests.contract import assert_cds_response

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
HOOKS = ("patient-view", "order-select", "order-sign")
SCENARIOS = [
    (hook, scenario)
    for hook in HOOKS
    for scenario in tomllib.loads((FIXTURES / hook / "scenarios.toml").read_text())["scenario"]
]


@cache
def _app(now: datetime) -> Flask:
    return create_app(Settings(), clock=lambda: now)


@pytest.mark.parametrize("hook", HOOKS)
def test_every_fixture_file_is_a_scenario(hook: str) -> None:
    names = {s["name"] for h, s in SCENARIOS if h == hook}
    files = {p.name.split(".")[0] for p in (FIXTURES / hook).glob("*.json")}
    assert files == names, "every fixture file is in scenarios.toml and vice versa"


def test_there_are_enough_patient_view_scenarios() -> None:
    assert sum(1 for hook, _ in SCENARIOS if hook == "patient-view") >= 15


def _check_suggestions(card: dict[str, Any], want: dict[str, Any]) -> None:
    if "suggestions" not in want:
        assert "suggestions" not in card and "selectionBehavior" not in card
        return
    assert card["selectionBehavior"] == want["selectionBehavior"]
    assert [r["display"] for r in card["overrideReasons"]] == want["overrideReasons"]
    assert len(card["suggestions"]) == len(want["suggestions"])
    for got, expected in zip(card["suggestions"], want["suggestions"], strict=True):
        assert got["label"] == expected["label"]
        assert got.get("isRecommended", False) == expected.get("isRecommended", False)
        assert len(got["actions"]) == len(expected["actions"])
        for action, expected_action in zip(got["actions"], expected["actions"], strict=True):
            assert action["type"] == expected_action["type"] and action["description"]
            for key in ("resourceId", "resource"):
                assert action.get(key) == expected_action.get(key)


@pytest.mark.parametrize(("hook", "scenario"), SCENARIOS, ids=[f"{h}/{s['name']}" for h, s in SCENARIOS])
def test_fixture_response(hook: str, scenario: dict[str, Any]) -> None:
    request = json.loads((FIXTURES / hook / f"{scenario['name']}.request.json").read_text())
    expected = json.loads((FIXTURES / hook / f"{scenario['name']}.expected.json").read_text())["cards"]

    response = _app(scenario["now"]).test_client().post(f"/cds-services/neutropenia-{hook}", json=request)

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    cards = assert_cds_response(response.get_json())
    assert [c["summary"] for c in cards] == [w["summary"] for w in expected]
    for card, want in zip(cards, expected, strict=True):
        assert card["indicator"] == want["indicator"]
        assert card["source"]["label"] == want["source"]["label"]
        assert card["extension"]["neutropenia-cds"] == want["extension"]["neutropenia-cds"]
        for text in want["detailIncludes"]:
            assert text in card["detail"], f"{text!r} not in detail:\n{card['detail']}"
        _check_suggestions(card, want)
    assert len({c["uuid"] for c in cards}) == len(cards)


# R5: the indicator column of the severity table, on the card an EHR shows (adult, a reported ANC).
@pytest.mark.parametrize(("value", "indicator"), [
    (1500, None), (1499, "info"), (1000, "info"), (999, "warning"), (500, "warning"), (499, "critical"),
    (100, "critical"), (99, "critical"),
])
def test_r5_indicator_of_each_band(client: FlaskClient, value: int, indicator: str | None) -> None:
    cards = assert_cds_response(client.post("/cds-services/neutropenia-patient-view",
                                             json=hook_request(anc(value))).get_json())
    assert [c["indicator"] for c in cards] == ([indicator] if indicator else [])
