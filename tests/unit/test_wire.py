"""Hook requests decoded to the elements some rule reads: the same answers, every required element kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
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
from cds_service.fhir import resources
from cds_service.fhir.wire import (
    BATCH,
    ELEMENTS_READ,
    BundleResources,
    decode_entry,
    decode_hook_body,
    decode_resource,
    loads,
)
from tests.builders import anc, bundle, hook_request, patient

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


@pytest.mark.parametrize("model", [Observation, DiagnosticReport, Patient, MedicationRequest,
                                   MedicationAdministration, MedicationStatement, Procedure, Condition])
def test_every_element_fhir_requires_of_a_validated_type_is_kept(model: Any) -> None:
    required = set()
    for name, field in model.model_fields.items():
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        if field.is_required() or extra.get("element_required") or extra.get("one_of_many_required"):
            required.add(field.alias or name)
    assert required <= set(ELEMENTS_READ), f"{model.__name__}: {sorted(required - set(ELEMENTS_READ))}"



@pytest.mark.parametrize("name", sorted(resources.TYPES))
def test_every_element_a_rule_reads_is_kept(name: str) -> None:
    """What the typed decode reads of a resource (fhir/resources.py) survives the slimming of a FHIR answer: an
    element left out would be read as absent from the fallback's answers only (a modifier such as doNotPerform
    among them)."""
    read = {field.encode_name for field in msgspec.structs.fields(resources.TYPES[name])}
    assert read <= set(ELEMENTS_READ), sorted(read - set(ELEMENTS_READ))

def _resources(value: dict[str, Any]) -> list[dict[str, Any]]:
    entries = value["entry"]
    return list(entries) if isinstance(entries, BundleResources) else [e["resource"] for e in entries]


def test_elements_no_rule_reads_are_left_out_and_the_rest_is_kept_whole() -> None:
    result = {**anc(420), "note": [{"text": "haemolysed?"}], "category": [{"text": "lab"}],
              "text": {"status": "generated", "div": "<div>...</div>"}}
    body = hook_request(result)
    body["extension"] = [{"url": "urn:x", "valueString": "y"}]
    decoded = decode_hook_body(orjson.dumps(body))
    (resource,) = _resources(decoded["prefetch"]["labs"])
    assert resource == {k: v for k, v in result.items() if k in ELEMENTS_READ}
    assert resource["valueQuantity"] == result["valueQuantity"]
    assert decoded["prefetch"]["patient"] == {k: v for k, v in body["prefetch"]["patient"].items()
                                              if k in ELEMENTS_READ}
    assert decoded["context"] == body["context"] and decoded["hookInstance"] == body["hookInstance"]
    assert "extension" not in decoded


FIXTURE_REQUESTS = sorted(FIXTURES.glob("*/*.request.json"))


@pytest.mark.parametrize("path", FIXTURE_REQUESTS, ids=[f"{p.parent.name}/{p.name}" for p in FIXTURE_REQUESTS])
def test_a_bundle_kept_as_received_gives_the_resources_sent(path: Path) -> None:
    sent = orjson.loads(path.read_bytes())
    decoded = decode_hook_body(path.read_bytes())
    assert decoded.keys() == sent.keys() and decoded["context"] == sent["context"]
    for key, value in sent.get("prefetch", {}).items():
        if value is not None and "entry" in value:
            resources = decoded["prefetch"][key]["entry"]
            assert isinstance(resources, BundleResources)
            expected = [{k: v for k, v in e["resource"].items() if k in ELEMENTS_READ} for e in value["entry"]
                        if e["resource"].get("resourceType") != "OperationOutcome"]
            assert list(resources) == expected
            assert [decode_entry(bytes(raw)) for raw in resources.raws] == [
                {k: v for k, v in e["resource"].items() if k in ELEMENTS_READ} for e in value["entry"]]
        else:
            assert decoded["prefetch"][key] == (
                None if value is None else {k: v for k, v in value.items() if k in ELEMENTS_READ})


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


def test_a_large_bundle_is_decoded_batch_by_batch_in_order_and_again_on_each_pass() -> None:
    results = [anc(1000 + i, id=f"r{i}") for i in range(2 * BATCH + 7)]
    outcome = {"resourceType": "OperationOutcome", "issue": [{"severity": "warning", "code": "incomplete"}]}
    body = hook_request(*results)
    body["prefetch"]["labs"]["entry"][5:5] = [{"resource": outcome}, {"resource": "not a resource"}, {}]
    resources = decode_hook_body(orjson.dumps(body))["prefetch"]["labs"]["entry"]
    assert isinstance(resources, BundleResources)
    ids = [r["id"] for r in resources]
    assert ids == [r["id"] for r in results]  # every result, in order; the outcome and the non-resource left out
    assert [r["id"] for r in resources] == ids and resources[0]["id"] == "r0" and len(resources) == len(results)


def test_a_number_past_double_in_a_read_element_of_a_large_bundle_is_read_as_infinite() -> None:
    # JSON allows it; the typed decode of that resource refuses it (R10: a data problem of its own, the test of
    # tests/api/test_hostile_input.py), never the Bundle around it
    body = orjson.dumps(hook_request(*[anc(1000 + i, id=f"r{i}") for i in range(BATCH + 1)]))
    body = body.replace(b'"value":1256', b'"value":1e999')
    resources = list(decode_hook_body(body)["prefetch"]["labs"]["entry"])
    assert len(resources) == BATCH + 1
    assert resources[256]["valueQuantity"]["value"] == float("inf")
    assert resources[255]["valueQuantity"]["value"] == 1255


def test_escapes_that_are_whole_are_read_as_they_are() -> None:
    text = rb'["\ud83d\ude00", "\\ud800", "\\\ud83d\ude00", "\u00e9"]'
    assert loads(text) == ["\U0001f600", "\\ud800", "\\\U0001f600", "\u00e9"]
    assert loads(rb'["\\\ud800", "x\udc00y"]') == ["\\\ufffd", "x\ufffdy"]
