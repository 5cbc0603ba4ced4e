"""Fuzzing, bounded: schemathesis against the service's own OpenAPI description -- zero 5xx, every response
conforming to the description -- and hypothesis properties of the request parser."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

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

# built at import, before any fixture runs: its feedback store goes to a temporary folder
APP = create_app(Settings(data_dir=Path(tempfile.mkdtemp(prefix="neutropenia-cds-fuzz-"))), clock=lambda: NOW)
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
