"""Shapes real records come in, through the whole service (the wire keeps what the rules read): the hour of
birth on a Patient, results a laboratory's report carries inside it, a CBC sent as one Observation with components,
a temperature above the thermometer's range; numbers past a double's range in elements no rule reads."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest
from flask.testing import FlaskClient

from tests.builders import (
    PATIENT_ID,
    RXNORM,
    ago,
    anc,
    bundle,
    condition,
    draft,
    hook_request,
    medication,
    order_request,
    temperature,
)
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


# An element no rule reads, holding a number past a double's range ("1e999" in the bytes sent): a dispensed
# quantity, a Medication's strength, a CBC's note. JSON allows it; nothing a rule reads is changed by it.
_PAST_DOUBLE = {"value": "PAST-DOUBLE"}


def _with_past_double(body: dict[str, Any]) -> bytes:
    sent = orjson.dumps(body).replace(b'"PAST-DOUBLE"', b"1e999")
    assert b"1e999" in sent
    return sent


def _chemotherapy(kind: str) -> tuple[str, list[dict[str, Any]]]:
    """Carboplatin (RxNorm 40048) given 5 days ago, as `kind` -- or named by a Medication -- with the number past a
    double in an element of it no rule reads; the prefetch key it is sent under."""
    if kind in ("Medication", "contained Medication"):
        named = {"resourceType": "Medication", "id": "carbo",
                 "code": {"coding": [{"system": RXNORM, "code": "40048"}]},
                 "amount": {"numerator": _PAST_DOUBLE, "denominator": {"value": 1}}}
        order = medication("MedicationAdministration", "40048", ago(days=5))
        del order["medicationCodeableConcept"]
        if kind == "Medication":
            order["medicationReference"] = {"reference": "Medication/carbo"}
            return "medicationAdministrations", [order, named]
        order["medicationReference"] = {"reference": "#carbo"}
        order["contained"] = [named]
        return "medicationAdministrations", [order]
    dose = medication(kind, "40048", ago(days=5), dispenseRequest={"quantity": _PAST_DOUBLE},
                      note=[{"text": "cycle 1", "extension": [{"url": "http://example.org/x", "valueDecimal": 0}]}])
    dose["extension"] = [{"url": "http://example.org/volume", "valueQuantity": _PAST_DOUBLE}]
    key = {"MedicationRequest": "medicationRequests", "MedicationAdministration": "medicationAdministrations",
           "MedicationStatement": "medicationStatements"}[kind]
    return key, [dose]


@pytest.mark.parametrize("kind", ["MedicationRequest", "MedicationAdministration", "MedicationStatement",
                                  "Medication", "contained Medication"])
def test_a_number_past_a_double_where_no_rule_reads_leaves_the_chemotherapy_known(client: FlaskClient,
                                                                                kind: str) -> None:
    """R7/R8: ANC 800, 38.5 °C, carboplatin given 5 days ago: febrile neutropenia, critical. The drug was read
    from the resource decoded whole a second time, which failed on the number: carboplatin unrecognised, and the
    card a warning ("moderate neutropenia with fever")."""
    key, resources = _chemotherapy(kind)
    body = hook_request(anc(800))
    body["prefetch"]["vitals"] = bundle(temperature("38.5"))
    body["prefetch"][key] = bundle(*resources)
    response = client.post(URL, data=_with_past_double(body), content_type="application/json")
    (card,) = assert_cds_response(response.get_json())
    assert card["indicator"] == "critical"
    assert card["extension"]["neutropenia-cds"]["finding"] == "febrile-neutropenia"
    assert "- **Chemotherapy**: carboplatin" in card["detail"]


def test_a_number_past_a_double_where_no_rule_reads_leaves_a_cbcs_components_read(client: FlaskClient) -> None:
    """R1/R2: a CBC sent as one Observation with components, the ANC 300 among them, and a note no rule reads
    holding the number: severe, critical (its components had been read from a second decode, which failed: no
    card at all)."""
    cbc = {"resourceType": "Observation", "id": "cbc-9", "status": "final",
           "code": {"coding": [{"system": "http://loinc.org", "code": "58410-2"}]},
           "subject": {"reference": f"Patient/{PATIENT_ID}"}, "effectiveDateTime": "2026-11-24T06:00:00Z",
           "extension": [{"url": "http://example.org/volume", "valueQuantity": _PAST_DOUBLE}],
           "component": [{"code": anc(300)["code"], "valueQuantity": anc(300)["valueQuantity"]}]}
    response = client.post(URL, data=_with_past_double(hook_request(cbc)), content_type="application/json")
    (card,) = assert_cds_response(response.get_json())
    assert card["indicator"] == "critical" and card["summary"] == "Severe neutropenia: ANC 300/uL (Nov 24)"


@pytest.mark.parametrize("where", ["a draft's dose", "a field of the context", "the hookInstance"])
def test_a_number_past_a_double_where_no_rule_reads_in_the_call_itself_refuses_nothing(client: FlaskClient,
                                                                                      where: str) -> None:
    """The hook call's own members, not only its prefetch: an MMR draft whose dose no rule reads holds the number, or
    an extra context field, or the hookInstance: the order is checked, never a 400 (it had been 'not valid JSON')."""
    vaccine = {"resourceType": "MedicationRequest", "id": "mmr", "status": "draft", "intent": "order",
               "subject": {"reference": f"Patient/{PATIENT_ID}"},
               "medicationCodeableConcept": {"coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": "03"}]}}
    if where == "a draft's dose":
        vaccine["dosageInstruction"] = [{"doseAndRate": [{"doseQuantity": {**_PAST_DOUBLE, "unit": "mL"}}]}]
    body = hook_request(anc(300), hook="order-sign")
    body["context"]["draftOrders"] = bundle(vaccine)
    if where == "a field of the context":
        body["context"]["weight"] = _PAST_DOUBLE
    if where == "the hookInstance":
        body["hookInstance"] = "PAST-DOUBLE"
    sent = orjson.dumps(body).replace(b'"PAST-DOUBLE"', b"1e999")
    assert b"1e999" in sent
    response = client.post("/cds-services/neutropenia-order-sign", data=sent, content_type="application/json")
    (card,) = assert_cds_response(response.get_json())
    assert card["indicator"] == "critical" and card["summary"].endswith("live vaccine with ANC 300/uL (Nov 24)")


def _report_carrying(result: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "DiagnosticReport", "id": "cbc-7", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "57021-8"}]},
            "subject": {"reference": f"Patient/{PATIENT_ID}"}, "effectiveDateTime": "2026-11-24T05:00:00Z",
            "contained": [result], "result": [{"reference": "#anc"}]}


def test_a_number_past_a_double_where_no_rule_reads_leaves_a_reports_results_read(client: FlaskClient) -> None:
    """R1: a report carrying its ANC 300 inside it, the ANC with an extension no rule reads holding the number:
    severe, critical (the whole report had been unreadable: no card at all)."""
    inner = {k: v for k, v in anc(300, id="anc").items() if k != "effectiveDateTime"}
    inner["extension"] = [{"url": "http://example.org/volume", "valueQuantity": _PAST_DOUBLE}]
    body = hook_request()
    body["prefetch"]["labReports"] = bundle(_report_carrying(inner))
    response = client.post(URL, data=_with_past_double(body), content_type="application/json")
    (card,) = assert_cds_response(response.get_json())
    assert card["indicator"] == "critical" and card["summary"] == "Severe neutropenia: ANC 300/uL (Nov 24)"


def test_a_count_past_a_double_in_a_report_is_a_data_problem(client: FlaskClient) -> None:
    """R10: the ANC a report carries, its value past a double's range: never classified, an info card says it
    could not be read (the whole report had been unreadable, and nothing said)."""
    inner = {k: v for k, v in anc(300, id="anc").items() if k != "effectiveDateTime"}
    inner["valueQuantity"] = {**inner["valueQuantity"], **_PAST_DOUBLE}
    body = hook_request()
    body["prefetch"]["labReports"] = bundle(_report_carrying(inner))
    response = client.post(URL, data=_with_past_double(body), content_type="application/json")
    (card,) = assert_cds_response(response.get_json())
    assert card["indicator"] == "info" and card["extension"]["neutropenia-cds"]["finding"] == "data-problem"


@pytest.mark.parametrize("change", [
    {"code": {"coding": [{"system": "http://loinc.org", "code": "751-8", "display": 751}]}},  # no rule reads it
    {"code": {"coding": [{"system": "http://loinc.org", "code": "751-8"}], "text": ["ANC"]}},
    {"subject": {"reference": f"Patient/{PATIENT_ID}", "display": {"family": "Doe"}}},
    {"meta": {"lastUpdated": 20261124}},  # read only to order versions of one id (R1); this one is sent once
    {"meta": [{"versionId": "2"}]},
    {"issued": 1764000000},  # read only where nothing else dates the result (R1)
    {"referenceRange": [{"low": {"value": "1.5", "unit": "10*3/uL"}}]},  # a lab's limit as a string
    {"referenceRange": {"low": {"value": 1.5, "unit": "10*3/uL"}}},  # one range, not a list
], ids=["coding-display", "code-text", "subject-display", "meta-lastUpdated", "meta-list", "issued",
        "range-limit-string", "range-not-list"])
def test_a_malformed_element_no_rule_needs_here_leaves_a_severe_anc_read(client: FlaskClient,
                                                                        change: dict[str, Any]) -> None:
    """R10 is for what a rule reads. ANC 300 with a number for a display, a timestamp or an issued time it does
    not need, or a reference range it cannot read (the CTCAE grade 1 then indeterminate): severe, critical -- each
    had made the result unreadable, an info card ("could not be interpreted") in place of the severe one."""
    (card,) = assert_cds_response(client.post(URL, json=hook_request(anc(300) | change)).get_json())
    assert card["indicator"] == "critical" and card["summary"] == "Severe neutropenia: ANC 300/uL (Nov 24)"


def test_a_record_built_as_a_bundle_names_its_patient_by_urn_uuid(client: FlaskClient) -> None:
    """R1: a record made of a Bundle (Synthea's), the patient's id a UUID and each resource's subject the
    `urn:uuid:` of that UUID: the patient's own -- ANC 800, 38.5 °C, carboplatin 5 days ago: febrile neutropenia.
    (Each was ignored as another patient's: no card at all.) Another UUID stays another patient's."""
    uuid = "5c0e8a3b-7f1d-4e8a-9a53-2f6f0c1d9e47"
    own = {"reference": f"urn:uuid:{uuid}"}
    body = hook_request(anc(800, subject=own["reference"]), patient_resource={"resourceType": "Patient", "id": uuid,
                                                                             "birthDate": "1980-05-01"})
    body["context"]["patientId"] = uuid
    body["prefetch"]["vitals"] = bundle(temperature("38.5", subject=own["reference"]))
    body["prefetch"]["medicationAdministrations"] = bundle(
        medication("MedicationAdministration", "40048", ago(days=5), subject=own))
    (card,) = assert_cds_response(client.post(URL, json=body).get_json())
    assert card["indicator"] == "critical"
    assert card["extension"]["neutropenia-cds"]["finding"] == "febrile-neutropenia"
    other = hook_request(anc(300, subject="urn:uuid:0b8b6f36-8f5c-4b2e-9a53-0e8f8a8a3b11"),
                         patient_resource={"resourceType": "Patient", "id": uuid, "birthDate": "1980-05-01"})
    other["context"]["patientId"] = uuid
    assert assert_cds_response(client.post(URL, json=other).get_json()) == []


@pytest.mark.parametrize("kind", ["MedicationRequest", "MedicationAdministration", "MedicationStatement",
                                  "Procedure"])
def test_an_id_that_is_no_string_leaves_the_chemotherapy_read(client: FlaskClient, kind: str) -> None:
    """No rule reads the id of a medication resource or a procedure: ANC 800, 38.5 °C and chemotherapy 5 days ago
    (carboplatin, or a chemotherapy procedure) with `"id": 7` is febrile neutropenia, critical. (The resource was
    unreadable and dropped with a log line: "moderate neutropenia with fever", a warning.)"""
    if kind == "Procedure":
        key = "procedures"
        dose = {"resourceType": "Procedure", "status": "completed", "subject": {"reference": f"Patient/{PATIENT_ID}"},
                "code": {"coding": [{"system": "http://snomed.info/sct", "code": "367336001"}]},
                "performedDateTime": ago(days=5)}
    else:
        key = {"MedicationRequest": "medicationRequests", "MedicationAdministration": "medicationAdministrations",
               "MedicationStatement": "medicationStatements"}[kind]
        dose = medication(kind, "40048", ago(days=5))
    body = hook_request(anc(800))
    body["prefetch"]["vitals"] = bundle(temperature("38.5"))
    body["prefetch"][key] = bundle(dose | {"id": 7})
    (card,) = assert_cds_response(client.post(URL, json=body).get_json())
    assert card["indicator"] == "critical"
    assert card["extension"]["neutropenia-cds"]["finding"] == "febrile-neutropenia"


# FHIR R4's modifier `doNotPerform` on a MedicationRequest: true is a request that the drug NOT be given.
@pytest.mark.parametrize(("do_not_perform", "indicator", "finding"), [
    (True, "warning", "fever-with-neutropenia"),  # no dose: R7's "ANC 500-999 and no chemotherapy window"
    (False, "critical", "febrile-neutropenia"),
    (None, "critical", "febrile-neutropenia"),
])
def test_a_request_not_to_give_chemotherapy_is_no_dose(client: FlaskClient, do_not_perform: bool | None,
                                                       indicator: str, finding: str) -> None:
    """R7/R8: ANC 800 and 38.5 °C, with a MedicationRequest for carboplatin 5 days ago. `doNotPerform: true` makes
    it an order that carboplatin not be given: no antineoplastic was given, so no chemotherapy window -- moderate
    neutropenia with fever, a warning. (It was read as a dose: febrile neutropenia, an emergency, for a drug the
    order forbade.)"""
    order = medication("MedicationRequest", "40048", ago(days=5), status="active")
    if do_not_perform is not None:
        order["doNotPerform"] = do_not_perform
    body = hook_request(anc(800))
    body["prefetch"]["vitals"] = bundle(temperature("38.5"))
    body["prefetch"]["medicationRequests"] = bundle(order)
    (card,) = assert_cds_response(client.post(URL, json=body).get_json())
    assert (card["indicator"], card["extension"]["neutropenia-cds"]["finding"]) == (indicator, finding)
    assert ("**Chemotherapy**" in card["detail"]) is (do_not_perform is not True)


@pytest.mark.parametrize("do_not_perform", [True, False])
def test_a_request_not_to_give_clozapine_is_no_active_clozapine(client: FlaskClient, do_not_perform: bool) -> None:
    """R8: ANC 800 and an active MedicationRequest for clozapine (RxNorm 2626) that says `doNotPerform: true` -- the
    patient is not to take it: the card gives no clozapine action and lists no clozapine among the causes."""
    order = medication("MedicationRequest", "2626", ago(days=5), status="active")
    order["doNotPerform"] = do_not_perform
    body = hook_request(anc(800))
    body["prefetch"]["medicationRequests"] = bundle(order)
    (card,) = assert_cds_response(client.post(URL, json=body).get_json())
    assert card["summary"] == "Moderate neutropenia: ANC 800/uL (Nov 24)"
    assert ("**Clozapine**" in card["detail"]) is not do_not_perform
    assert ("not a diagnosis): clozapine." in card["detail"]) is not do_not_perform


@pytest.mark.parametrize(("report_status", "summary"), [
    ("final", "Severe neutropenia: ANC 300/uL (Nov 24)"),
    ("amended", "Severe neutropenia: ANC 300/uL (Nov 24)"),
    ("preliminary", "Severe neutropenia: ANC 300/uL (Nov 24, preliminary)"),
    ("partial", "Severe neutropenia: ANC 300/uL (Nov 24, preliminary)"),
    ("entered-in-error", None),
    ("cancelled", None),
    ({"code": "entered-in-error"}, "Severe neutropenia: ANC 300/uL (Nov 24)"),  # no status: the result's own
])
@pytest.mark.parametrize("own_status", ["final", {"code": "final"}])  # the result's own, as sent
def test_a_result_carried_inside_a_report_shares_the_reports_status(client: FlaskClient, report_status: Any,
                                                                     summary: str | None, own_status: Any) -> None:
    """R1: an ANC of 300 (status final) that a DiagnosticReport carries inside it (`contained`) has no life of its
    own: a report withdrawn (entered-in-error) or cancelled takes it with it -- never used, no card (it was a
    critical card) -- and a report still preliminary or partial makes it a preliminary result."""
    inner = {k: v for k, v in anc(300, id="anc").items() if k != "effectiveDateTime"} | {"status": own_status}
    body = hook_request()
    body["prefetch"]["labReports"] = bundle(_report_carrying(inner) | {"status": report_status})
    cards = assert_cds_response(client.post(URL, json=body).get_json())
    # (a status of its own that is no string: a result that cannot be read, R10 -- unless the report withdrew it)
    read = summary if isinstance(own_status, str) else "ANC result could not be interpreted"
    assert [card["summary"] for card in cards] == ([read] if summary else [])


def test_a_wbc_bound_after_a_severe_anc_is_shown_with_no_direction(client: FlaskClient) -> None:
    """R4/R6: ANC 300, then a WBC of 1,200 with no differential: the ANC is at most 1,200 and may still be 300. The
    card stays severe (it said "Mild neutropenia: ANC <=1,200", info) and gives both values with no direction (it said
    "recovering")."""
    wbc = {**anc(1.2, unit="10*3/uL", when=ago(hours=2)),
           "code": {"coding": [{"system": "http://loinc.org", "code": "6690-2"}]}}
    (card,) = assert_cds_response(client.post(URL, json=hook_request(anc(300, when=ago(days=2)), wbc)).get_json())
    assert card["indicator"] == "critical" and card["summary"] == "Severe neutropenia: ANC 300/uL (Nov 23)"
    assert "- **Trend** (direction unknown): 300/uL (Nov 23), ≤1,200/uL (Nov 25)." in card["detail"].splitlines()


@pytest.mark.parametrize(("count_unit", "temperature_unit"), [
    ("\u00d710\u2079/L", "\u2103"),  # a European report as printed: x10^9/L in superscript, the degree Celsius sign
    ("10^3/\u00b5L", "\u00b0C"),  # the x of x10^3/uL left out
    ("10*3/uL", "Cel"),  # UCUM's codes in `unit`, with no system (the ANC was "unrecognised unit '10*3/uL'")
])
def test_units_as_laboratories_print_them_reach_the_card(client: FlaskClient, count_unit: str,
                                                         temperature_unit: str) -> None:
    """R3.2, R7: ANC 0.4 in a printed unit (display only, no UCUM code) with 38.6 in a printed Celsius sign: 400/uL
    with fever, febrile neutropenia -- not "unrecognised unit", which would leave both unread."""
    body = hook_request(anc(0.4, count_unit, ucum=False))
    body["prefetch"]["vitals"] = bundle(temperature("38.6", temperature_unit, ucum=False))
    (card,) = assert_cds_response(client.post(URL, json=body).get_json())
    assert card["indicator"] == "critical"
    assert card["summary"] == "Febrile neutropenia: ANC 400/uL (Nov 24), 38.6 °C (Nov 25) -- antibiotics within 60 min"


# HL7 Terminology's OIDs of the code systems the rules read: what records converted from C-CDA or HL7 v2 carry
_OIDS = {
    "http://loinc.org": "urn:oid:2.16.840.1.113883.6.1",
    "http://unitsofmeasure.org": "urn:oid:2.16.840.1.113883.6.8",
    "http://www.nlm.nih.gov/research/umls/rxnorm": "urn:oid:2.16.840.1.113883.6.88",
    "http://snomed.info/sct": "urn:oid:2.16.840.1.113883.6.96",
    "http://hl7.org/fhir/sid/icd-10-cm": "urn:oid:2.16.840.1.113883.6.90",
    "http://hl7.org/fhir/sid/cvx": "urn:oid:2.16.840.1.113883.12.292",
    "http://www.whocc.no/atc": "urn:oid:2.16.840.1.113883.6.73",
}


def _spelled(value: Any, spell: Callable[[str], str]) -> Any:
    """Every code system of a request named as `spell` names it (by its OID, as a converted record does; by another
    spelling of its URL, as records in the wild do)."""
    if isinstance(value, dict):
        return {k: (spell(v) if k == "system" and v in _OIDS else _spelled(v, spell)) for k, v in value.items()}
    if isinstance(value, list):
        return [_spelled(v, spell) for v in value]
    return value


_SPELLINGS = {
    "oid": _OIDS.__getitem__,
    "https": lambda url: url.replace("http://", "https://"),
    "trailing-slash": lambda url: url + "/",
    "www": lambda url: url.replace("http://", "http://www.") if "//www." not in url else url.replace("www.", ""),
    "capitals": lambda url: "Https://" + url.removeprefix("http://").upper() + "/",
}


@pytest.mark.parametrize("spelling", _SPELLINGS)
def test_a_record_whose_code_systems_are_named_by_oid_or_another_spelling_reaches_the_card(
        client: FlaskClient, spelling: str) -> None:
    """R2, R3.1, R7, R8: ANC 0.3 10*3/uL, 38.6 Cel, carboplatin (RxNorm 40048) given 5 days ago, acute myeloid
    leukaemia (ICD-10-CM C92.00) -- every system, LOINC's, UCUM's, RxNorm's, ICD-10-CM's, named by its OID or by
    another spelling of its URL ("https://loinc.org", "http://loinc.org/"): febrile neutropenia after chemotherapy,
    the leukaemia found in the record; not "no ANC", which is what unread codes would leave."""
    body = hook_request(anc(0.3, "10*3/uL"))
    body["prefetch"]["vitals"] = bundle(temperature("38.6"))
    body["prefetch"]["medicationAdministrations"] = bundle(medication("MedicationAdministration", "40048", ago(days=5)))
    body["prefetch"]["conditions"] = bundle(condition("C92.00"))
    (card,) = assert_cds_response(client.post(URL, json=_spelled(body, _SPELLINGS[spelling])).get_json())
    assert card["summary"] == "Febrile neutropenia: ANC 300/uL (Nov 24), 38.6 °C (Nov 25) -- antibiotics within 60 min"
    assessment = card["extension"]["neutropenia-cds"]
    assert assessment["finding"] == "febrile-neutropenia"
    assert "- **Chemotherapy**: carboplatin, Nov 20 (5 days ago)" in card["detail"]
    assert "- **Found in the record** (possible contributors, not a diagnosis): leukemia." in card["detail"]


@pytest.mark.parametrize("spelling", _SPELLINGS)
@pytest.mark.parametrize(("code", "system", "resource_id"), [
    ("03", "http://hl7.org/fhir/sid/cvx", "MedicationRequest/mmr"),  # MMR, live (R9)
    ("40048", "http://www.nlm.nih.gov/research/umls/rxnorm", "MedicationRequest/mmr"),  # carboplatin at ANC 420
    ("L01XA02", "http://www.whocc.no/atc", "MedicationRequest/mmr"),  # carboplatin by ATC L01
])
def test_a_draft_coded_by_the_oid_or_another_spelling_of_its_code_system_is_checked(
        client: FlaskClient, code: str, system: str, resource_id: str, spelling: str) -> None:
    """R9 at ANC 420: a draft whose code system is named by its OID, or by another spelling of its URL, is checked as
    by the system's URL -- critical."""
    body = order_request("order-sign", anc(420), drafts=[draft(code, system, id="mmr")])
    (card,) = assert_cds_response(client.post("/cds-services/neutropenia-order-sign",
                                              json=_spelled(body, _SPELLINGS[spelling])).get_json())
    assert card["indicator"] == "critical"
    assert card["suggestions"][0]["actions"][0]["resourceId"] == resource_id


def test_an_abnormal_anc_dated_in_the_future_is_shown_and_never_current(client: FlaskClient) -> None:
    """R6: ANC 300 dated Nov 24, 2062 (a year typed wrong) and nothing else: no time can be trusted, so it is no
    current ANC -- an info card with its value and its date, asking to check the date; never let go."""
    (card,) = assert_cds_response(client.post(URL, json=hook_request(anc(300, when="2062-11-24T08:00:00Z"))).get_json())
    assert card["indicator"] == "info"
    assert card["summary"] == "No ANC in the last 7 days; one dated in the future (Nov 24, 2062) was severe: 300/uL"
    assert "An ANC dated in the future cannot be treated as current." in card["detail"]
    assert ("- **ANC 300/uL**, Nov 24, 2062 08:00 UTC -- **dated in the future: check its date**, reported by the "
            "laboratory.") in card["detail"]


@pytest.mark.parametrize("when", [None, "2062-11-24T08:00:00Z"], ids=["no-time", "dated-2062"])
def test_fever_with_an_anc_below_500_that_no_time_places_is_possible_febrile_neutropenia(client: FlaskClient,
                                                                                     when: str | None) -> None:
    """R7: fever now, and an ANC of 300 with no time, or dated 2062: it may be older than 7 days, or newer -- either
    way R7 asks for an urgent CBC. Critical, never the info card of an ANC that is not current."""
    result = anc(300, when=when) if when else {k: v for k, v in anc(300).items() if k != "effectiveDateTime"}
    body = hook_request(result)
    body["prefetch"]["vitals"] = bundle(temperature("38.6"))
    (card,) = assert_cds_response(client.post(URL, json=body).get_json())
    assert card["indicator"] == "critical"
    assert card["summary"].startswith("Possible febrile neutropenia: 38.6 °C (Nov 25), last ANC 300/uL (")
    # the ANC as it is: with no time, or with its date and a word to check it (a year typed wrong)
    assert ("- **ANC 300/uL**, Nov 24, 2062 08:00 UTC -- **dated in the future: check its date**, reported" if when
            else "- **ANC 300/uL**, no collection time, reported") in card["detail"]


@pytest.mark.parametrize("value", ["0.3", {"value": 0.3}])
def test_a_newer_result_that_cannot_be_read_is_said_beside_an_older_normal_one(client: FlaskClient,
                                                                                value: Any) -> None:
    """R10 with R6: ANC 2,500 three days ago, and yesterday's ANC whose value is no number ("0.3", as a converter
    writes it). The newer one cannot be read -- it may be severe -- so it is said in an info card, dated; never
    silence because the older, normal one is current."""
    newer = anc(0.3, "10*3/uL")
    newer["valueQuantity"]["value"] = value
    body = hook_request(anc(2500, when=ago(days=3)), newer)
    (card,) = assert_cds_response(client.post(URL, json=body).get_json())
    assert card["indicator"] == "info" and card["extension"]["neutropenia-cds"]["finding"] == "data-problem"
    assert "- ANC (LOINC 751-8), Nov 24:" in card["detail"]
    assert ('(its value as sent: "0\\.3")' in card["detail"]) == (value == "0.3")  # the value, Markdown-escaped


# (U+2039: the look-alike the cards show for "<", inert as Markdown and as plain text)
@pytest.mark.parametrize(("sent", "shown"), [("<0.1", "\u20390\\.1"), ("0.3 K/uL", "0\\.3 K/uL"),
                                             ("Critical: *see note*", "Critical: \\*see note\\*")])
def test_a_count_sent_as_text_is_shown_as_sent_on_the_data_problem_card(client: FlaskClient, sent: str,
                                                                         shown: str) -> None:
    """R10: yesterday's ANC sent as a valueString ("<0.1": a laboratory's 'below what it can count') cannot be read --
    no unit can be trusted with it -- so it is said, never classified; the card shows the text as sent, inert as
    Markdown, so that the clinician sees at once what the laboratory reported."""
    result = anc(0.1, "10*3/uL")
    del result["valueQuantity"]
    result["valueString"] = sent
    (card,) = assert_cds_response(client.post(URL, json=hook_request(result)).get_json())
    assert card["indicator"] == "info" and card["extension"]["neutropenia-cds"]["finding"] == "data-problem"
    assert f'- ANC (LOINC 751-8), Nov 24: a value that is not a number with a unit ("{shown}").' in card["detail"]


@pytest.mark.parametrize("change", [{"unit": "kelvin"}, {"value": "38.9"}], ids=["unknown-unit", "value-a-string"])
def test_a_temperature_of_the_fever_window_that_cannot_be_read_is_said(client: FlaskClient,
                                                                        change: dict[str, Any]) -> None:
    """R7 with R10: ANC 800 at 08:00 today, and a temperature at 07:00 that cannot be read. R7 reads every temperature
    of the last 24 hours, whatever the ANC's time, so that one may be the fever that makes this a febrile neutropenia:
    an info card says it could not be read, beside the ANC's card -- never dropped for being older than the ANC."""
    reading = temperature("38.9", when="2026-11-25T07:00:00Z", ucum=False, unit="Cel")
    reading["valueQuantity"].update(change)
    body = hook_request(anc(800, when="2026-11-25T08:00:00Z"))
    body["prefetch"]["vitals"] = bundle(reading)
    cards = assert_cds_response(client.post(URL, json=body).get_json())
    assert [c["indicator"] for c in cards] == ["warning", "info"]
    assert cards[1]["extension"]["neutropenia-cds"]["finding"] == "data-problem"
    assert "- Temperature (LOINC 8310-5), Nov 25:" in cards[1]["detail"]


def test_an_anc_whose_status_is_no_fhir_status_is_said_with_its_status(client: FlaskClient) -> None:
    """R1 with R10: yesterday's ANC of 300 with the status "completed" (an order's word, no result status) cannot be
    known to be final: the data-problem info card names it with the status as sent -- never silence, never used."""
    (card,) = assert_cds_response(client.post(URL, json=hook_request(anc(300, status="completed"))).get_json())
    assert card["indicator"] == "info" and card["extension"]["neutropenia-cds"]["finding"] == "data-problem"
    assert ("- ANC (LOINC 751-8), Nov 24: a status that is no FHIR result status ('completed'): not known to be a "
            "final result.") in card["detail"]
    assert card["source"]["label"] == "HL7 FHIR Observation resource: status"


@pytest.mark.parametrize(("weight", "cards"), [
    # R5: 2.5 lb is 1,134 g, a very low birth weight: LLN 1,100 from 61 hours to 28 days -- ANC 1,200 is normal
    # (it was read as no birth weight: term limits, a mild neutropenia card saying "No birth weight is recorded")
    ({"value": 2.5, "unit": "lb", "system": "http://unitsofmeasure.org", "code": "[lb_av]"}, []),
    # a weight no table knows the unit of: term limits, and both cards say it could not be read
    ({"value": 1200, "unit": "grammes?"}, [
        ("info", "Mild neutropenia: ANC 1,200/uL (Nov 24)"),
        ("info", "Birth weight reported with unrecognised unit 'grammes?'; cannot interpret")]),
])
def test_a_birth_weight_as_us_records_keep_it(client: FlaskClient, weight: dict[str, Any],
                                              cards: list[tuple[str, str]]) -> None:
    body = hook_request(anc(1200), patient_resource={"resourceType": "Patient", "id": PATIENT_ID,
                                                     "birthDate": "2026-11-15"})
    body["prefetch"]["vitals"] = bundle({
        "resourceType": "Observation", "id": "birth-weight", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8339-4"}]},
        "subject": {"reference": f"Patient/{PATIENT_ID}"}, "effectiveDateTime": "2026-11-15T03:10:00Z",
        "valueQuantity": weight})
    answer = assert_cds_response(client.post(URL, json=body).get_json())
    assert [(c["indicator"], c["summary"]) for c in answer] == cards
    if cards:
        assert ("- Lower limit used: 1,500/uL (72 hours to 2 weeks of age). No birth weight could be read: term "
                "limits were used.") in answer[0]["detail"].splitlines()
