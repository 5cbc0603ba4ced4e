"""The FHIR fallback against a real FHIR search engine (Medplum, in memory, on 127.0.0.1): for every fixture,
the cards from the fallback path equal the cards from the prefetch path."""

from __future__ import annotations

import tomllib
from datetime import datetime
from functools import cache
from typing import Any

import pytest
import requests
from flask import Flask

from cds_service.app import create_app
from cds_service.settings import Settings
from tests.contract import assert_cds_response, assert_operation_outcome
from tests.integration.conftest import FIXTURES, fixture_request, free_port, load, resources_of

pytestmark = pytest.mark.integration
HOOKS = ("patient-view", "order-select", "order-sign")
SCENARIOS = [(hook, s["name"], s["now"]) for hook in HOOKS
             for s in tomllib.loads((FIXTURES / hook / "scenarios.toml").read_text())["scenario"]]


@cache
def _app(now: datetime) -> Flask:
    return create_app(Settings(), clock=lambda: now)


def _without_uuids(cards: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k != "uuid"}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value
    return [strip(card) for card in cards]


@pytest.mark.parametrize(("hook", "name", "now"), SCENARIOS, ids=[f"{h}/{n}" for h, n, _ in SCENARIOS])
def test_fallback_and_prefetch_give_the_same_cards(fhir_server: str, hook: str, name: str, now: datetime) -> None:
    request = fixture_request(hook, name)
    load(fhir_server, resources_of(request))
    client = _app(now).test_client()
    url = f"/cds-services/neutropenia-{hook}"

    with_prefetch = client.post(url, json=request)
    fallback_request = {k: v for k, v in request.items() if k != "prefetch"}
    fallback_request["fhirServer"] = f"{fhir_server}/fhir/R4"
    fallback_request["fhirAuthorization"] = {"access_token": "test-token", "token_type": "Bearer",
                                             "expires_in": 300, "scope": "patient/*.read", "subject": "cds"}
    fallback = client.post(url, json=fallback_request)

    assert with_prefetch.status_code == 200 and fallback.status_code == 200, fallback.get_data(as_text=True)
    expected = _without_uuids(assert_cds_response(with_prefetch.get_json()))
    assert _without_uuids(assert_cds_response(fallback.get_json())) == expected


def test_fhir_server_that_refuses_connections_gives_412() -> None:
    request = {k: v for k, v in fixture_request("patient-view", "severe-adult-499").items() if k != "prefetch"}
    request["fhirServer"] = f"http://127.0.0.1:{free_port()}/fhir/R4"  # nothing listens there
    response = _app(SCENARIOS[0][2]).test_client().post("/cds-services/neutropenia-patient-view", json=request)
    assert response.status_code == 412
    assert_operation_outcome(response.get_json(), "ConnectionError")


def test_the_test_server_searches_by_post_as_fhir_servers_do(fhir_server: str) -> None:
    """FHIR search by POST ([type]/_search, form-encoded parameters) is the same search as a GET; the CDS Hooks
    Sandbox fetches its prefetch so, and the test server must answer it as a real server would."""
    load(fhir_server, resources_of(fixture_request("patient-view", "severe-adult-499")))
    query = {"patient": "pat-1", "code": "http://loinc.org|751-8"}
    by_get = requests.get(f"{fhir_server}/fhir/R4/Observation", params=query, timeout=10)
    by_post = requests.post(f"{fhir_server}/fhir/R4/Observation/_search", data=query, timeout=10)
    assert by_get.status_code == by_post.status_code == 200
    found = [e["resource"]["id"] for e in by_post.json()["entry"]]
    assert found and found == [e["resource"]["id"] for e in by_get.json()["entry"]]


def test_a_long_medication_history_is_searched_newest_first_and_its_cut_is_said(fhir_server: str) -> None:
    """A patient with more medication orders than one page holds (210 old ones, then carboplatin 7 days ago), as an
    oncology patient has: the search asks for the newest first, so the dose is read and fever with ANC 800 is
    febrile neutropenia (R7 proxy); the server answers one page with no next link, which its `total` shows to be
    cut short, and the card says the orders were read only in part."""
    when = next(now for _, name, now in SCENARIOS if name == "severe-adult-499")
    old = [{"resourceType": "MedicationRequest", "id": f"old-{i}", "status": "completed", "intent": "order",
            "subject": {"reference": "Patient/pat-1"}, "authoredOn": f"{2012 + i % 10}-0{1 + i % 9}-1{i % 10}",
            "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                                                      "code": "161"}]}}  # acetaminophen, years ago
           for i in range(210)]
    chemo = {**old[0], "id": "chemo", "status": "active", "authoredOn": "2026-11-18",
             "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                                                       "code": "40048"}]}}  # carboplatin
    request = fixture_request("patient-view", "severe-adult-499")
    labs = [{**r, "valueQuantity": {**r["valueQuantity"], "value": 800}} for r in resources_of(request)
            if r["resourceType"] == "Observation"]
    fever = {"resourceType": "Observation", "id": "t1", "status": "final",
             "code": {"coding": [{"system": "http://loinc.org", "code": "8310-5"}]},
             "subject": {"reference": "Patient/pat-1"}, "effectiveDateTime": "2026-11-25T11:00:00Z",
             "valueQuantity": {"value": 38.6, "unit": "Cel", "system": "http://unitsofmeasure.org", "code": "Cel"}}
    patient = [r for r in resources_of(request) if r["resourceType"] == "Patient"]
    load(fhir_server, [*patient, *labs, fever, *old, chemo])  # the dose stored last: the last a server would page to
    body = {k: v for k, v in request.items() if k != "prefetch"} | {"fhirServer": f"{fhir_server}/fhir/R4"}
    response = _app(when).test_client().post("/cds-services/neutropenia-patient-view", json=body)
    (card,) = assert_cds_response(response.get_json())
    assert card["extension"]["neutropenia-cds"]["finding"] == "febrile-neutropenia", card["summary"]
    assert "**Read only in part**" in card["detail"] and "medication orders" in card["detail"]
