"""GET /cds-services: generated from the service declarations, CDS Hooks 2.0 shape, R4 search syntax."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from flask.testing import FlaskClient

from cds_service.knowledge import Knowledge


def test_discovery_lists_the_patient_view_service(client: FlaskClient) -> None:
    response = client.get("/cds-services")
    assert response.status_code == 200 and response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"services"}
    (service,) = [s for s in body["services"] if s["id"] == "neutropenia-patient-view"]
    assert set(service) == {"id", "hook", "title", "description", "prefetch"}
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


def test_discovery_with_a_trailing_slash_is_not_found_and_health_answers(client: FlaskClient) -> None:
    """/cds-services/ is not the discovery endpoint: Werkzeug's strict slashes answer 404 there, never a service."""
    assert client.get("/cds-services/").status_code == 404
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_discovery_is_the_reviewed_golden_file(client: FlaskClient) -> None:
    """fixtures/discovery.json is reviewed like any fixture: a change to a service's declaration -- its prefetch
    queries above all -- shows there before it reaches an EHR."""
    golden = json.loads((Path(__file__).resolve().parents[2] / "fixtures" / "discovery.json").read_text())
    assert client.get("/cds-services").get_json() == golden
