"""The SMART app's own checks (cds_service/smart.py), with the EHR's endpoints mocked by `responses`; the whole launch
through a real authorisation server is tests/integration/test_smart_app.py."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import requests
import responses

from cds_service.fhir.client import Allowlist
from cds_service.knowledge import Knowledge
from cds_service.services import patient_prefetch
from cds_service.smart import (
    READ_RESOURCES,
    SCOPES_V1,
    SCOPES_V2,
    SEARCHED_RESOURCES,
    LaunchRefused,
    SmartConfiguration,
    authorisation_url,
    checked_iss,
    cookie_value,
    discover,
    exchange_code,
    new_key,
    new_session,
    read_cookie,
    seal,
    unseal,
)
from cds_service.urls import parse_url

ISS = "https://ehr.example.org/fhir"
CONFIGURATION = {"authorization_endpoint": "https://ehr.example.org/auth", "token_endpoint": "https://ehr.example.org/token",
                 "code_challenge_methods_supported": ["S256"], "capabilities": ["launch-ehr", "permission-v2"]}
NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


def test_the_scopes_cover_every_resource_the_chart_reads(knowledge: Knowledge) -> None:
    # the chart resolves the patient-view prefetch with the EHR's token: a type without its scope would be refused
    templates = patient_prefetch(knowledge)
    read = {t.query.split("/")[0] for t in templates if "?" not in t.query}
    searched = {t.query.split("?")[0] for t in templates if "?" in t.query}
    included = {"Medication" for t in templates if ":medication" in t.query}
    assert read == {"Patient"} and read == set(READ_RESOURCES)
    assert searched | included == set(SEARCHED_RESOURCES)
    for kind in searched | included:
        assert f"patient/{kind}.rs" in SCOPES_V2.split() and f"patient/{kind}.read" in SCOPES_V1.split()
    assert "patient/Patient.r" in SCOPES_V2.split() and "patient/Patient.read" in SCOPES_V1.split()


@pytest.mark.parametrize(("iss", "status"), [
    (None, 400), ("", 400), ("ftp://ehr.example.org/fhir", 400), ("https://user@ehr.example.org/fhir", 400),
    ("https://other.example.org/fhir", 403), ("https://ehr.example.org.evil.example/fhir", 403),
])
def test_an_iss_that_is_missing_malformed_or_off_the_allowlist_is_refused(iss: str | None, status: int) -> None:
    with pytest.raises(LaunchRefused) as refused:
        checked_iss(iss, Allowlist(("https://ehr.example.org",)))
    assert refused.value.status == status


@responses.activate
@pytest.mark.parametrize(("document", "scopes"), [
    (CONFIGURATION, SCOPES_V2),
    ({**CONFIGURATION, "capabilities": ["launch-ehr"]}, SCOPES_V1),  # a server that speaks SMART v1 scopes only
    ({**CONFIGURATION, "capabilities": [], "scopes_supported": ["patient/Observation.rs"]}, SCOPES_V2),
    ({**CONFIGURATION, "capabilities": 5, "scopes_supported": True}, SCOPES_V1),  # no lists: nothing said of v2
    ({**CONFIGURATION, "capabilities": "permission-v2"}, SCOPES_V1),  # a string is no list of capabilities
])
def test_discovery_reads_the_endpoints_and_the_scope_syntax(document: dict[str, object], scopes: str) -> None:
    responses.get(f"{ISS}/.well-known/smart-configuration", json=document)
    found = discover(parse_url(ISS), requests.Session(), 1.0)
    assert found == SmartConfiguration("https://ehr.example.org/auth", "https://ehr.example.org/token", scopes)


@responses.activate
@pytest.mark.parametrize("document", [
    {**CONFIGURATION, "code_challenge_methods_supported": ["plain"]},  # PKCE S256 is required
    {**CONFIGURATION, "code_challenge_methods_supported": 5},  # no list of methods: no S256 (a 502, never a 500)
    {**CONFIGURATION, "code_challenge_methods_supported": "plain,S256"},
    {**CONFIGURATION, "scopes_supported": "DEEP"},  # nested past any parser's depth: refused, never a 500
    {**CONFIGURATION, "token_endpoint": "javascript:alert(1)"},
    ["not", "an", "object"],
])
def test_a_configuration_without_pkce_s256_or_endpoints_is_refused(document: object) -> None:
    body = json.dumps(document).replace('"DEEP"', "[" * 100_000 + "]" * 100_000)
    responses.get(f"{ISS}/.well-known/smart-configuration", body=body, content_type="application/json")
    with pytest.raises(LaunchRefused) as refused:
        discover(parse_url(ISS), requests.Session(), 1.0)
    assert refused.value.status == 502


def test_the_authorisation_url_carries_pkce_state_aud_and_launch() -> None:
    configuration = SmartConfiguration("https://ehr.example.org/auth", "https://ehr.example.org/token", SCOPES_V2)
    session = new_session(parse_url(ISS), configuration, NOW)
    url = authorisation_url(configuration, "neutropenia-cds", "https://cds.example.org/smart/callback",
                            parse_url(ISS), "launch-1", session["state"], session["code_verifier"])
    assert url.startswith("https://ehr.example.org/auth?response_type=code&client_id=neutropenia-cds")
    for part in ("code_challenge_method=S256", f"state={session['state']}", "launch=launch-1",
                 "aud=https%3A%2F%2Fehr.example.org%2Ffhir", "patient%2FObservation.rs"):
        assert part in url
    assert session["code_verifier"] not in url  # only its S256 challenge leaves the server
    assert session["expires_at"] == NOW + timedelta(minutes=10)


def _session() -> dict[str, object]:
    return {"token_endpoint": "https://ehr.example.org/token", "code_verifier": "v" * 64}


@responses.activate
def test_the_code_is_exchanged_with_the_verifier_and_the_token_names_the_patient() -> None:
    responses.post("https://ehr.example.org/token", json={
        "access_token": "t", "token_type": "Bearer", "expires_in": 600, "patient": "pat-1",
        "appContext": json.dumps({"patientId": "pat-1"})})
    authorised = exchange_code(_session(), "code-1", "neutropenia-cds", "https://cds.example.org/smart/callback",
                               NOW, requests.Session(), 1.0)
    assert (authorised.access_token, authorised.patient) == ("t", "pat-1")
    assert authorised.expires_at == NOW + timedelta(seconds=600)  # the session lives as long as the token
    sent = responses.calls[0].request.body
    assert "code_verifier=" + "v" * 64 in sent and "code=code-1" in sent and "client_id=neutropenia-cds" in sent


@responses.activate
@pytest.mark.parametrize(("expires_in", "kept"), [
    (600, timedelta(seconds=600)),
    (10**12, timedelta(days=1)),  # past what a date holds: the session still ends, after a day at most
    (True, timedelta(seconds=300)),  # no number of seconds: as a response without expires_in
    ("3600", timedelta(seconds=300)),
    (-5, timedelta(seconds=300)),
])
def test_the_session_lives_as_long_as_the_token_and_a_day_at_most(expires_in: object, kept: timedelta) -> None:
    responses.post("https://ehr.example.org/token", json={
        "access_token": "t", "token_type": "Bearer", "expires_in": expires_in, "patient": "pat-1"})
    authorised = exchange_code(_session(), "code-1", "neutropenia-cds", "https://cds.example.org/smart/callback",
                               NOW, requests.Session(), 1.0)
    assert authorised.expires_at == NOW + kept


@responses.activate
@pytest.mark.parametrize(("answer", "status"), [
    ({"access_token": "t", "token_type": "Bearer", "expires_in": 600}, 502),  # no patient: no launch context
    ({"access_token": "t", "token_type": "Bearer", "patient": "pat-2",
      "appContext": json.dumps({"patientId": "pat-1"})}, 403),  # the card was about another patient
    ({"access_token": "t", "token_type": "Bearer", "patient": "../../Patient"}, 502),  # no FHIR id
    ({"error": "invalid_grant"}, 502),
])
def test_a_token_response_the_app_cannot_trust_is_refused(answer: dict[str, object], status: int) -> None:
    responses.post("https://ehr.example.org/token", json=answer, status=200 if "access_token" in answer else 400)
    with pytest.raises(LaunchRefused) as refused:
        exchange_code(_session(), "code-1", "neutropenia-cds", "https://cds.example.org/smart/callback", NOW,
                      requests.Session(), 1.0)
    assert refused.value.status == status


@responses.activate
def test_an_app_context_nested_past_any_parsers_depth_is_as_none() -> None:
    # (it was a RecursionError: a 500 at the callback) -- no card's patient to compare, as without an appContext
    responses.post("https://ehr.example.org/token", json={
        "access_token": "t", "token_type": "Bearer", "patient": "pat-2", "appContext": "[" * 100_000 + "]" * 100_000})
    authorised = exchange_code(_session(), "code-1", "neutropenia-cds", "https://cds.example.org/smart/callback",
                               NOW, requests.Session(), 1.0)
    assert authorised.patient == "pat-2"


def test_the_database_keeps_the_token_sealed_with_a_key_only_the_cookie_holds() -> None:
    key, other = new_key(), new_key()
    sealed = seal("the-ehr-access-token", key)
    assert "the-ehr-access-token" not in sealed
    assert unseal(sealed, key) == "the-ehr-access-token"
    assert unseal(sealed, other) is None  # a database row without its browser's cookie is no token
    assert unseal(sealed[:-4] + "AAAA", key) is None  # nor an altered one
    assert unseal(None, key) is None and unseal("", key) is None


@pytest.mark.parametrize(("cookie", "expected"), [
    ("session-1.KEY", ("session-1", "KEY")),
    ("session-1", ("", "")),  # no key
    ("session-1.not-a-key", ("", "")),
    (".KEY", ("", "")),
    ("", ("", "")),
])
def test_the_cookie_is_the_session_id_and_its_key(cookie: str, expected: tuple[str, str]) -> None:
    key = new_key()
    assert read_cookie(cookie.replace("KEY", key)) == tuple(part.replace("KEY", key) for part in expected)
    assert read_cookie(cookie_value("session-2", key)) == ("session-2", key)
