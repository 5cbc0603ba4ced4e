"""Fuzzing, bounded: schemathesis against the service's own OpenAPI description (zero 5xx, every response
conforming to the description), hypothesis properties of the request parser, and every element of three rich
fixture requests replaced in turn by JSON of another shape."""

from __future__ import annotations

import copy
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from cds_service.app import create_app
from cds_service.errors import ServiceError
from cds_service.fhir.hook_request import parse_hook_request
from cds_service.settings import Settings
from tests.builders import NOW
from tests.contract import assert_cds_response, assert_operation_outcome

# built at import, before any fixture runs: its feedback store goes to a temporary folder, removed when the test
# process ends
DATA = tempfile.TemporaryDirectory(prefix="neutropenia-cds-fuzz-")
APP = create_app(Settings(data_dir=Path(DATA.name)), clock=lambda: NOW)
SCHEMA = schemathesis.openapi.from_wsgi("/openapi.json", APP)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@SCHEMA.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_never_answers_5xx_and_conforms(case: Any) -> None:
    case.call_and_validate(checks=CHECKS)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)


@given(st.dictionaries(st.sampled_from(["hook", "hookInstance", "context", "prefetch", "fhirServer",
                                        "fhirAuthorization", "extra"]), JSON, max_size=7))
@settings(max_examples=300, deadline=None)
def test_request_parser_accepts_or_rejects_cleanly(body: dict[str, Any]) -> None:
    """Any JSON object either parses or raises the service's own 400 -- never another exception."""
    try:
        parse_hook_request(body, "patient-view", ("patientId", "userId"))
    except ServiceError as error:
        assert error.status == 400 and error.diagnostics


FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
# one rich request per hook: a record with chemotherapy, fever and medications; a Sandbox order-select; several orders
MUTATED = (("patient-view", "febrile-neutropenia-chemotherapy-product"),
           ("order-select", "select-sandbox-clozaril-anc-499"), ("order-sign", "sign-several-risky-orders"))
ODD = (None, [], {}, 7, "x", True, [None], {"a": 1})


def _paths(value: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    if path:
        yield path
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        yield from _paths(item, (*path, key))


@pytest.mark.parametrize(("hook", "name"), MUTATED)
def test_any_element_of_another_shape_is_read_around_or_refused_never_a_5xx(hook: str, name: str) -> None:
    """Each element (the resourceType of a Bundle entry, a coding's code, a dosage, the context...) replaced by
    each odd value: a CDS Hooks answer, or a 4xx OperationOutcome -- never a 5xx (a resourceType that was a list
    once answered 500)."""
    request = json.loads((FIXTURES / hook / f"{name}.request.json").read_text())
    client = APP.test_client()
    calls = 0
    for path in list(_paths(request)):
        for odd in ODD:
            body = copy.deepcopy(request)
            parent = body
            for key in path[:-1]:
                parent = parent[key]
            parent[path[-1]] = odd
            response = client.post(f"/cds-services/neutropenia-{hook}", json=body)
            calls += 1
            assert response.status_code < 500, (path, odd)
            if response.status_code == 200:
                assert_cds_response(response.get_json())
            else:
                assert_operation_outcome(response.get_json())
    assert calls >= 500  # (every element of a rich request, each in eight shapes)
