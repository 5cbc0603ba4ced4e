"""GET /cds-services: generated from the service declarations, CDS Hooks 2.0 shape, R4 search syntax."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from flask.testing import FlaskClient

from cds_service.app import create_app
from cds_service.knowledge import Knowledge
from cds_service.settings import Settings


def test_discovery_lists_the_patient_view_service(client: FlaskClient) -> None:
    response = client.get("/cds-services")
    assert response.status_code == 200 and response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"services"}
    (service,) = [s for s in body["services"] if s["id"] == "neutropenia-patient-view"]
    assert set(service) == {"id", "hook", "title", "description", "prefetch", "extension"}  # CDS Hooks 2.0 fields
    assert service["hook"] == "patient-view"
    assert service["title"] and service["description"]
    assert service["prefetch"]["patient"] == "Patient/{{context.patientId}}"


def _params(query: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(query).query)


def test_prefetch_searches_every_r2_lab_code_in_r4_syntax(client: FlaskClient, knowledge: Knowledge) -> None:
    prefetch = client.get("/cds-services").get_json()["services"][0]["prefetch"]
    labs = _params(prefetch["labs"])
    assert prefetch["labs"].startswith("Observation?")
    assert labs["patient"] == ["{{context.patientId}}"]
    assert labs["_sort"] == ["-date"]  # R4 syntax, not sort:desc=date
    sent = set(labs["code"][0].split(","))
    for role in ("anc", "segs", "bands", "wbc", "neut_pct", "segs_pct", "bands_pct"):
        for code in knowledge.codes.codes_by_role[role]:  # type: ignore[index]
            assert f"http://loinc.org|{code}" in sent
    assert "http://loinc.org|30180-4" not in sent  # basophils %, the R2 trap
    vitals = set(_params(prefetch["vitals"])["code"][0].split(","))
    assert {"http://loinc.org|8310-5", "http://loinc.org|8339-4"} <= vitals
    assert prefetch["labReports"].startswith("DiagnosticReport?patient={{context.patientId}}")


def test_discovery_with_a_trailing_slash_is_discovery_and_health_answers(client: FlaskClient) -> None:
    """/cds-services/ -- a discovery URL registered with a trailing slash -- is discovery, never a service with an
    empty id (a POST there is no hook call)."""
    assert client.get("/cds-services/").get_json() == client.get("/cds-services").get_json()
    assert client.post("/cds-services/", json={}).status_code == 405
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_discovery_is_the_reviewed_golden_file(client: FlaskClient) -> None:
    """fixtures/discovery.json is reviewed like any fixture: a change to a service's declaration -- its prefetch
    queries above all -- shows there before it reaches an EHR."""
    golden = json.loads((Path(__file__).resolve().parents[2] / "fixtures" / "discovery.json").read_text())
    assert client.get("/cds-services").get_json() == golden


def test_discovery_says_how_to_register_the_anc_trend_app() -> None:
    on = create_app(Settings(public_base_url="https://cds.example.org")).test_client().get("/cds-services").get_json()
    for service in on["services"]:
        app = service["extension"]["neutropenia-cds"]["smartApp"]
        assert app["clientId"] == "neutropenia-cds" and app["pkce"] == "S256" and app["launch"] == "ehr"
        assert app["launchUrl"] == "https://cds.example.org/smart/launch"
        assert app["redirectUri"] == "https://cds.example.org/smart/callback"
        assert "patient/Observation.rs" in app["scopes"].split() and "launch" in app["scopes"].split()
        assert "patient/Observation.read" in app["scopesV1"].split()
    off = create_app(Settings(smart_client_id="")).test_client().get("/cds-services").get_json()
    assert all("extension" not in service for service in off["services"])

