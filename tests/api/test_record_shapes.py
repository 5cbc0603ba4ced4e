"""Shapes real records come in, through the whole service (the wire keeps what the rules read): the hour of
birth on a Patient, results a laboratory's report carries inside it, a CBC sent as one Observation with components,
a temperature above the thermometer's range."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.builders import PATIENT_ID, anc, bundle, hook_request, temperature
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


def test_the_counts_of_a_cbc_sent_as_components_reach_the_card(client: FlaskClient) -> None:
    """R1/R2: one CBC Observation (58410-2) with a component per count, the ANC among them: 300, severe."""
    cbc = {"resourceType": "Observation", "id": "cbc-9", "status": "final",
           "code": {"coding": [{"system": "http://loinc.org", "code": "58410-2"}]},
           "subject": {"reference": f"Patient/{PATIENT_ID}"}, "effectiveDateTime": "2026-11-24T06:00:00Z",
           "component": [{"code": r["code"], "valueQuantity": r["valueQuantity"]} for r in (anc(300),)]}
    (card,) = assert_cds_response(client.post(URL, json=hook_request(cbc)).get_json())
    assert card["indicator"] == "critical" and card["summary"] == "Severe neutropenia: ANC 300/uL (Nov 24)"


def test_a_temperature_above_the_thermometers_range_reaches_the_card(client: FlaskClient) -> None:
    """R7: ">42.0 °C" (a lower bound: at least that hot) is a fever; the card keeps its sign."""
    body = hook_request(anc(300))
    body["prefetch"]["vitals"] = bundle(temperature("42.0", comparator=">"))
    (card,) = assert_cds_response(client.post(URL, json=body).get_json())
    assert card["summary"] == "Febrile neutropenia: ANC 300/uL (Nov 24), >42.0 °C (Nov 25) -- antibiotics within 60 min"
    assert "**Fever** >42.0 °C / >107.6 °F" in card["detail"]
