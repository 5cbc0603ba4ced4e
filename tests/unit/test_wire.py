"""Hook requests decoded to the elements some rule reads: the same answers, every required element kept."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.diagnosticreport import DiagnosticReport
from fhir.resources.R4B.medicationadministration import MedicationAdministration
from fhir.resources.R4B.medicationrequest import MedicationRequest
from fhir.resources.R4B.medicationstatement import MedicationStatement
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.procedure import Procedure

from cds_service.errors import BadRequest
from cds_service.fhir.wire import ELEMENTS_READ, decode_hook_body, decode_resource
from tests.builders import anc, bundle, hook_request, patient


@pytest.mark.parametrize("model", [Observation, DiagnosticReport, Patient, MedicationRequest,
                                   MedicationAdministration, MedicationStatement, Procedure, Condition])
def test_every_element_fhir_requires_of_a_validated_type_is_kept(model: Any) -> None:
    required = set()
    for name, field in model.model_fields.items():
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        if field.is_required() or extra.get("element_required") or extra.get("one_of_many_required"):
            required.add(field.alias or name)
    assert required <= set(ELEMENTS_READ), f"{model.__name__}: {sorted(required - set(ELEMENTS_READ))}"


def test_elements_no_rule_reads_are_left_out_and_the_rest_is_kept_whole() -> None:
    result = {**anc(420), "note": [{"text": "haemolysed?"}], "category": [{"text": "lab"}],
              "text": {"status": "generated", "div": "<div>...</div>"}}
    body = hook_request(result)
    body["extension"] = [{"url": "urn:x", "valueString": "y"}]
    decoded = decode_hook_body(orjson.dumps(body))
    (entry,) = decoded["prefetch"]["labs"]["entry"]
    assert entry == {"resource": {k: v for k, v in result.items() if k in ELEMENTS_READ}}
    assert entry["resource"]["valueQuantity"] == result["valueQuantity"]
    assert decoded["prefetch"]["patient"] == {k: v for k, v in body["prefetch"]["patient"].items()
                                              if k in ELEMENTS_READ}
    assert decoded["context"] == body["context"] and decoded["hookInstance"] == body["hookInstance"]
    assert "extension" not in decoded


@pytest.mark.parametrize("body", [
    b'{"hook": "patient-view", "prefetch": ["not", "an", "object"]}',
    b'{"hook": "patient-view", "prefetch": {"labs": 7}}',
    b'{"hook": "patient-view", "prefetch": {"labs": {"resourceType": "Bundle", "entry": [5, {"resource": "x"}]}}}',
    b'{"hook": "patient-view", "prefetch": {"labs": {"resourceType": "Bundle", "entry": null}}}',
    b'[1, 2]',
])
def test_other_shapes_are_decoded_whole_for_the_usual_checks(body: bytes) -> None:
    assert decode_hook_body(body) == orjson.loads(body)


def test_a_body_that_is_not_json_is_a_bad_request() -> None:
    with pytest.raises(BadRequest, match="not valid JSON"):
        decode_hook_body(b'{"hook": ')


def test_a_fhir_answer_is_slimmed_like_the_prefetch() -> None:
    answer = bundle(anc(420), patient("1961-07-04"))
    answer["link"] = [{"relation": "next", "url": "http://127.0.0.1/fhir/Observation?page=2"}]
    decoded = decode_resource(orjson.dumps(answer))
    assert decoded["link"] == answer["link"]
    assert [e["resource"]["resourceType"] for e in decoded["entry"]] == ["Observation", "Patient"]
    with pytest.raises(orjson.JSONDecodeError):
        decode_resource(b"<html>")
