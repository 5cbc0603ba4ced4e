"""Shapes real records come in, through the whole service (the wire keeps what the rules read): the hour of
birth on a Patient, results a laboratory's report carries inside it."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.builders import PATIENT_ID, anc, bundle, hook_request
from tests.contract import assert_cds_response

URL = "/cds-services/neutropenia-patient-view"


def test_the_hour_of_birth_reaches_the_card_through_the_wire(client: FlaskClient) -> None:
    """R5: born Nov 22 at 22:00 UTC (patient-birthTime), ANC 1,600 at 70 hours: below the first-72-hours limit of
    1,800 -- from midnight the baby would be 92 hours old, and 1,600 normal."""
    born = {"resourceType": "Patient", "id": PATIENT_ID, "birthDate": "2026-11-22", "_birthDate": {"extension": [
        {"url": "http://hl7.org/fhir/StructureDefinition/patient-birthTime", "valueDateTime": "2026-11-22T22:00:00Z"}]}}
    body = hook_request(anc(1600, when="2026-11-25T20:00:00Z"), patient_resource=born)
    (card,) = assert_cds_response(client.post(URL, json=body).get_json())
    assert card["extension"]["neutropenia-cds"]["finding"] == "low-for-age"
    assert card["extension"]["neutropenia-cds"]["lln"] == 1800


def test_results_a_report_carries_inside_it_reach_the_card(client: FlaskClient) -> None:
    """R1: a DiagnosticReport (the labReports prefetch) carrying its ANC as a contained Observation, listed as
    "#anc": ANC 300, dated by the report -- severe, critical."""
    inner = {k: v for k, v in anc(300, id="anc").items() if k != "effectiveDateTime"}
    report = {"resourceType": "DiagnosticReport", "id": "cbc-7", "status": "final",
              "code": {"coding": [{"system": "http://loinc.org", "code": "57021-8"}]},
              "subject": {"reference": f"Patient/{PATIENT_ID}"}, "effectiveDateTime": "2026-11-24T05:00:00Z",
              "contained": [inner], "result": [{"reference": "#anc"}]}
    body = hook_request()
    body["prefetch"]["labReports"] = bundle(report)
    (card,) = assert_cds_response(client.post(URL, json=body).get_json())
    assert card["indicator"] == "critical" and card["summary"] == "Severe neutropenia: ANC 300/uL (Nov 24)"
    assert card["extension"]["neutropenia-cds"]["observedAt"] == "2026-11-24T05:00:00+00:00"
