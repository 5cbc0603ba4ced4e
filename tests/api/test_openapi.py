"""The OpenAPI 3.1 description: served, valid, and every kind of response the service gives conforms to it."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator

from tests.builders import anc, hook_request

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


@pytest.fixture
def document(client: FlaskClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.get_json()
    return body


def _validate(document: dict[str, Any], schema: str, instance: Any) -> None:
    root = {"components": document["components"], "$ref": f"#/components/schemas/{schema}"}
    Draft202012Validator(root, format_checker=Draft202012Validator.FORMAT_CHECKER).validate(instance)


def test_document_describes_every_service(document: dict[str, Any], client: FlaskClient) -> None:
    assert document["openapi"] == "3.1.0"
    services = client.get("/cds-services").get_json()["services"]
    for service in services:
        operation = document["paths"][f"/cds-services/{service['id']}"]["post"]
        assert set(operation["responses"]) == {"200", "400", "401", "412", "413", "503"}  # 503: replay store down
        assert operation["security"] == [{"cdsHooksJwt": []}, {}]
        assert "post" in document["paths"][f"/cds-services/{service['id']}/feedback"]
    assert "get" in document["paths"]["/feedback/summary"]
    assert document["components"]["securitySchemes"]["cdsHooksJwt"]["scheme"] == "bearer"
    for schema in document["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)


def test_discovery_conforms(document: dict[str, Any], client: FlaskClient) -> None:
    _validate(document, "Discovery", client.get("/cds-services").get_json())


@pytest.mark.parametrize("hook", ["patient-view", "order-select", "order-sign"])
def test_every_fixture_request_and_response_conforms(document: dict[str, Any], client: FlaskClient,
                                                     hook: str) -> None:
    for scenario in tomllib.loads((FIXTURES / hook / "scenarios.toml").read_text())["scenario"]:
        request = json.loads((FIXTURES / hook / f"{scenario['name']}.request.json").read_text())
        _validate(document, "CdsRequest", request)
        response = client.post(f"/cds-services/neutropenia-{hook}", json=request)
        _validate(document, "CdsResponse", response.get_json())


@pytest.mark.parametrize(("path", "body", "status"), [
    ("/cds-services/neutropenia-patient-view", {"hook": "x"}, 400),
    ("/cds-services/neutropenia-patient-view", hook_request(prefetch={}), 412),
    ("/cds-services/unknown", hook_request(anc(1)), 404),
])
def test_errors_conform(document: dict[str, Any], client: FlaskClient, path: str, body: Any, status: int) -> None:
    response = client.post(path, json=body)
    assert response.status_code == status
    _validate(document, "OperationOutcome", response.get_json())
