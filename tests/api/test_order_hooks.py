"""order-select and order-sign through the Flask app: discovery, bad draftOrders/selections, card per order."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.builders import CVX, PATIENT_ID, ago, anc, draft, medication, observation, order_request, patient
from tests.contract import assert_cds_response, assert_operation_outcome

SELECT = "/cds-services/neutropenia-order-select"
SIGN = "/cds-services/neutropenia-order-sign"


def test_discovery_lists_three_services(client: FlaskClient) -> None:
    services = client.get("/cds-services").get_json()["services"]
    assert [(s["id"], s["hook"]) for s in services] == [
        ("neutropenia-patient-view", "patient-view"),
        ("neutropenia-order-select", "order-select"),
        ("neutropenia-order-sign", "order-sign"),
    ]
    for service in services:
        assert {"patient", "labs", "medicationRequests", "duffy"} <= set(service["prefetch"])


def _select(**changes: Any) -> dict[str, Any]:
    body = order_request("order-select", anc(420), drafts=[draft("03", CVX, id="mmr")],
                         selections=["MedicationRequest/mmr"])
    body["context"].update(changes)
    return body


@pytest.mark.parametrize(("url", "body", "text"), [
    (SELECT, _select(draftOrders="a bundle"), "context.draftOrders must be a FHIR Bundle"),
    (SELECT, _select(draftOrders=["x"]), "context.draftOrders must be a FHIR Bundle"),
    (SELECT, _select(selections="MedicationRequest/mmr"), "context.selections must be a list"),
    (SELECT, _select(selections=["MedicationRequest/nope"]), "names 'MedicationRequest/nope', which is not in"),
    (SIGN, {**_select(), "hook": "order-select"}, "answers the 'order-sign' hook, not 'order-select'"),
    (SELECT, {**_select(), "hook": "patient-view"}, "answers the 'order-select' hook"),
])
def test_400_only_for_what_makes_the_call_meaningless(client: FlaskClient, url: str, body: dict[str, Any],
                                                      text: str) -> None:
    response = client.post(url, json=body)
    assert response.status_code == 400
    assert_operation_outcome(response.get_json(), text)


def _live_vaccine_at_anc_420(**changes: Any) -> dict[str, Any]:
    resource = {**draft("03", CVX, id="mmr"), **changes}
    return {k: v for k, v in resource.items() if v is not None}


@pytest.mark.parametrize("resource", [
    _live_vaccine_at_anc_420(intent=None),  # the Sandbox's Rx View: no intent
    _live_vaccine_at_anc_420(category={"coding": [{"code": "community"}]}),  # the Sandbox's Rx Sign: one object
    _live_vaccine_at_anc_420(dosageInstruction="twice daily"),  # a dosage the R4 model refuses
    _live_vaccine_at_anc_420(subject="Patient/example", authoredOn=20261201, note="text"),
])
def test_a_draft_is_read_for_what_a_rule_needs_and_never_refused_for_the_rest(
        client: FlaskClient, resource: dict[str, Any]) -> None:
    body = order_request("order-sign", anc(420), drafts=[resource])
    cards = assert_cds_response(client.post(SIGN, json=body).get_json())
    assert [c["indicator"] for c in cards] == ["critical"]  # R9: live vaccine, ANC < 500


@pytest.mark.parametrize(("url", "changes"), [
    (SIGN, {"draftOrders": None}),  # the Sandbox's Rx Sign tab calls with no draftOrders
    (SELECT, {"draftOrders": None, "selections": None}),
    (SIGN, {"draftOrders": {"resourceType": "Bundle"}}),
    (SIGN, {"draftOrders": {"resourceType": "Bundle", "entry": []}}),
    (SELECT, {"draftOrders": {"resourceType": "Bundle", "entry": []}, "selections": []}),
    (SIGN, {"draftOrders": {"resourceType": "Bundle", "entry": [{"fullUrl": "urn:uuid:1"}]}}),
])
def test_no_draft_orders_is_200_and_no_cards(client: FlaskClient, url: str, changes: dict[str, Any]) -> None:
    body = order_request("order-sign" if url == SIGN else "order-select", anc(420), drafts=[])
    body["context"].update(changes)
    body["context"] = {k: v for k, v in body["context"].items() if v is not None}
    body.pop("prefetch")  # nothing to check: the record is not even read, so no prefetch is needed
    assert assert_cds_response(client.post(url, json=body).get_json()) == []


def test_order_select_checks_only_the_selection(client: FlaskClient) -> None:
    body = order_request("order-select", anc(420),
                         drafts=[draft("03", CVX, id="mmr"), draft("40048", id="carbo"), draft("198335", id="tmp")],
                         selections=["MedicationRequest/carbo"])
    cards = assert_cds_response(client.post(SELECT, json=body).get_json())
    assert [c["suggestions"][0]["actions"][0]["resourceId"] for c in cards] == ["MedicationRequest/carbo"]


UNSAVED = "urn:uuid:5b0e9a4e-8d1c-4c31-9a35-2f4d1c0b7a11"


@pytest.mark.parametrize(("selection", "full_url", "with_id"), [
    (UNSAVED, UNSAVED, True),  # FHIR: a reference to an entry by its fullUrl, as a client's unsaved draft has
    (UNSAVED, UNSAVED, False),  # ... which may have no id yet
    ("https://ehr.example.org/fhir/MedicationRequest/mmr", "https://ehr.example.org/fhir/MedicationRequest/mmr", True),
    ("https://ehr.example.org/fhir/MedicationRequest/mmr", None, True),  # absolute, as a result's subject is read
    ("MedicationRequest/mmr/_history/2", None, True),
])
def test_order_select_reads_a_selection_that_names_its_draft_by_its_entry_or_its_url(
        client: FlaskClient, selection: str, full_url: str | None, with_id: bool) -> None:
    """(each was a 400: "names ..., which is not in context.draftOrders") -- R9: live vaccine at ANC 420, critical."""
    vaccine = draft("03", CVX, id="mmr")
    if not with_id:
        del vaccine["id"]
    body = order_request("order-select", anc(420), drafts=[vaccine, draft("40048", id="carbo")],
                         selections=[selection])
    if full_url is not None:
        body["context"]["draftOrders"]["entry"][0]["fullUrl"] = full_url
    cards = assert_cds_response(client.post(SELECT, json=body).get_json())
    assert [(c["indicator"], c["summary"].split(":")[0]) for c in cards] == [("critical", "Live vaccine (code 03)")]


@pytest.mark.parametrize("selection", ["urn:uuid:00000000-0000-4000-8000-000000000000", "mmr",
                                       "https://ehr.example.org/fhir/MedicationRequest/nope"])
def test_a_selection_that_names_no_entry_is_still_a_400(client: FlaskClient, selection: str) -> None:
    body = _select(selections=[selection])
    body["context"]["draftOrders"]["entry"][0]["fullUrl"] = UNSAVED
    response = client.post(SELECT, json=body)
    assert response.status_code == 400
    assert_operation_outcome(response.get_json(), f"names '{selection}', which is not in")


def test_order_sign_gives_one_card_per_risky_order(client: FlaskClient) -> None:
    drafts = [draft("03", CVX, id="mmr"), draft("40048", id="carbo"), draft("198335", id="tmp"),
              draft("26225", id="ondansetron"), draft("187", CVX, id="shingrix")]
    body = order_request("order-sign", anc(420), drafts=drafts)
    cards = assert_cds_response(client.post(SIGN, json=body).get_json())
    assert [c["suggestions"][0]["actions"][0]["resourceId"] for c in cards] == [
        "MedicationRequest/mmr", "MedicationRequest/carbo", "MedicationRequest/tmp"]
    assert all(c["indicator"] == "critical" for c in cards)
    assert len({c["uuid"] for c in cards}) == 3
    assert len({s["uuid"] for c in cards for s in c["suggestions"]}) == sum(len(c["suggestions"]) for c in cards)


@pytest.mark.parametrize(("value", "cards"), [(999, 1), (1000, 0), (1499, 0)])
def test_a_live_vaccine_for_an_infant_is_weighed_against_the_infants_limit(client: FlaskClient, value: int,
                                                                         cards: int) -> None:
    # R9 "ANC 500 to below the LLN for age (R5)": 1000 from 2 weeks to 1 year -- the age of the rotavirus doses
    body = order_request("order-sign", anc(value), drafts=[draft("116", CVX, id="rotavirus")])
    body["prefetch"]["patient"] = patient("2026-05-25")  # six months old
    found = assert_cds_response(client.post(SIGN, json=body).get_json())
    assert len(found) == cards
    for card in found:
        assert card["indicator"] == "warning"
        assert card["detail"].startswith("**Live vaccine with ANC below 1,000/uL")
        assert "Lower limit used: 1,000/uL (2 weeks to 1 year of age)" in card["detail"]


def test_a_live_vaccine_after_a_severe_anc_with_none_since_asks_for_a_count(client: FlaskClient) -> None:
    # R9 "ANC < 500" with no current ANC (R6: none in 7 days): the last ANC of the look-back, 300 on Nov 5, counts --
    # a warning that asks for a CBC before the vaccine (the safer reading), never silence
    body = order_request("order-sign", anc(300, when=ago(days=20)), drafts=[draft("03", CVX, id="mmr", text="MMR")])
    [card] = assert_cds_response(client.post(SIGN, json=body).get_json())
    assert card["indicator"] == "warning"
    assert card["summary"] == "MMR: live vaccine with ANC 300/uL (Nov 5)"
    assert card["detail"].startswith("**No ANC in the last 7 days, and the last one was below 500/uL: get a CBC with "
                                     "differential before giving a live vaccine.**")
    assert [s["actions"][0]["type"] for s in card["suggestions"]] == ["delete", "create"]
    assert card["suggestions"][1]["actions"][0]["resource"]["code"]["coding"][0]["code"] == "57021-8"


def _no_time(resource: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in resource.items() if k != "effectiveDateTime"}


@pytest.mark.parametrize("result", [_no_time(anc(300)), anc(300, when="2062-11-24T08:00:00Z")],
                         ids=["no-time", "dated-2062"])
@pytest.mark.parametrize("order", [draft("03", CVX, id="d", text="MMR"), draft("40048", id="d", text="carboplatin"),
                                   draft("2626", id="d", text="clozapine"), draft("10831", id="d", text="TMP-SMX")],
                         ids=["live-vaccine", "antineoplastic", "clozapine", "associated-drug"])
def test_an_anc_below_500_that_no_time_places_asks_for_a_count(client: FlaskClient, result: dict[str, Any],
                                                                order: dict[str, Any]) -> None:
    """R9 with no current ANC, the safer reading: an ANC of 300 with no time, or dated 2062, may be recent (R6) --
    like the last ANC of the look-back, a warning that asks for a CBC, never silence."""
    body = order_request("order-sign", result, drafts=[order])
    [card] = assert_cds_response(client.post(SIGN, json=body).get_json())
    assert card["indicator"] == "warning"
    assert "with ANC 300/uL (" in card["summary"]
    assert ("dated in the future: check its date" in card["detail"]) == ("effectiveDateTime" in result)


@pytest.mark.parametrize("current", [None, anc(2500, when=ago(days=3))], ids=["no-other-anc", "older-normal-anc"])
def test_a_live_vaccine_with_an_anc_that_cannot_be_read_is_a_warning_that_says_so(
        client: FlaskClient, current: dict[str, Any] | None) -> None:
    """R10 with R9: yesterday's ANC in a unit no table knows ('furlongs') may be below 500 -- the MMR order gets a
    warning that names the result and asks to check it (and offers a CBC), where it passed in silence."""
    unreadable = observation("751-8", 0.3, "furlongs", when=ago(days=1))
    results = [unreadable] if current is None else [current, unreadable]
    body = order_request("order-sign", *results, drafts=[draft("03", CVX, id="mmr", text="MMR")])
    [card] = assert_cds_response(client.post(SIGN, json=body).get_json())
    assert card["indicator"] == "warning"
    newer = "" if current is None else "a newer"
    assert card["summary"] == f"MMR: live vaccine with {newer or 'an'} ANC that could not be read"
    assert "check it in the laboratory system before giving a live vaccine.**" in card["detail"]
    assert "- ANC (LOINC 751-8), Nov 24: unrecognised unit 'furlongs'." in card["detail"]
    assert [s["label"] for s in card["suggestions"]] == ["Remove the draft order", "Order a CBC with differential"]


def test_a_live_vaccine_with_a_count_of_the_current_collection_that_cannot_be_read(client: FlaskClient) -> None:
    """R4 with R9 and R10: an automated ANC of 1,600 and a manual ANC (753-4) of the same collection in a unit no table
    knows -- of two ANCs of one collection the lower is the count, so the unread one may be it: a warning (the MMR
    passed in silence, the manual count hidden as no newer than the 1,600)."""
    results = [anc(1600, when=ago(days=1)), observation("753-4", 0.3, "furlongs", when=ago(days=1))]
    body = order_request("order-sign", *results, drafts=[draft("03", CVX, id="mmr", text="MMR")])
    [card] = assert_cds_response(client.post(SIGN, json=body).get_json())
    assert (card["indicator"], card["summary"]) == ("warning", "MMR: live vaccine with an ANC that could not be read")
    assert card["detail"].startswith("**A count of this ANC's collection could not be interpreted and may be lower -- "
                                     "check it in the laboratory system before giving a live vaccine.**")
    assert "- ANC (LOINC 753-4), Nov 24: unrecognised unit 'furlongs'." in card["detail"]


def _cbc(code: str | None, text: str, status: str = "draft") -> dict[str, Any]:
    concept: dict[str, Any] = {"text": text}
    if code is not None:
        concept["coding"] = [{"system": "http://loinc.org", "code": code}]
    return {"resourceType": "ServiceRequest", "id": "cbc", "status": status, "intent": "order",
            "subject": {"reference": f"Patient/{PATIENT_ID}"}, "code": concept}


@pytest.mark.parametrize(("hook", "cbc", "suggested"), [
    ("order-sign", _cbc("57021-8", "CBC with differential"), False),
    ("order-sign", _cbc(None, "CBC W/ AUTO DIFF"), False),  # a local lab order, named
    ("order-sign", _cbc(None, "Complete blood count with differential"), False),
    ("order-select", _cbc("69742-5", "CBC W Differential panel"), False),  # drafted, though not selected
    ("order-sign", _cbc("58410-2", "CBC panel"), True),  # a CBC without a differential gives no ANC
    ("order-sign", _cbc(None, "CBC"), True),
    ("order-sign", _cbc("57021-8", "CBC with differential", status="cancelled"), True),
])
def test_no_cbc_is_suggested_when_one_is_among_the_draft_orders(client: FlaskClient, hook: str,
                                                                cbc: dict[str, Any], suggested: bool) -> None:
    """R9: a chemotherapy order set that holds its CBC with differential, signed with no current ANC -- the card still
    warns, but does not offer to order a second CBC (accepted, it drafted a duplicate); it says one is among the
    orders."""
    body = order_request(hook, drafts=[draft("3002", id="cyc", text="cyclophosphamide 500 mg IV"), cbc],
                         **({"selections": ["MedicationRequest/cyc"]} if hook == "order-select" else {}))
    [card] = assert_cds_response(client.post(SIGN if hook == "order-sign" else SELECT, json=body).get_json())
    assert card["indicator"] == "warning"
    labels = [s["label"] for s in card["suggestions"]]
    assert labels == (["Remove the draft order", "Order a CBC with differential"] if suggested
                      else ["Remove the draft order"])
    assert ("- A CBC with differential is among the draft orders: wait for its result." in card["detail"]) is (
        not suggested)


def test_order_sign_with_no_drafts_is_empty(client: FlaskClient) -> None:
    body = order_request("order-sign", anc(420), drafts=[])
    assert assert_cds_response(client.post(SIGN, json=body).get_json()) == []


def test_a_draft_naming_an_unsaved_medication_by_urn_uuid_is_checked(client: FlaskClient) -> None:
    # draft orders are unsaved: an order may name the draft Medication beside it by its fullUrl (urn:uuid)
    by_reference = draft("x", id="carbo")
    del by_reference["medicationCodeableConcept"]
    by_reference["medicationReference"] = {"reference": "urn:uuid:3f0c"}
    medication = {"resourceType": "Medication", "id": "carboplatin",
                  "code": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "40048"}]}}
    body = order_request("order-sign", anc(420), drafts=[by_reference])
    body["context"]["draftOrders"]["entry"].append({"fullUrl": "urn:uuid:3f0c", "resource": medication})
    (card,) = assert_cds_response(client.post(SIGN, json=body).get_json())
    # R9: an antineoplastic (carboplatin, RxNorm 40048 on the Medication) with ANC < 500 is critical
    assert card["indicator"] == "critical" and card["summary"].endswith("chemotherapy with ANC 420/uL (Nov 24)")
    assert card["suggestions"][0]["actions"][0]["resourceId"] == "MedicationRequest/carbo"


@pytest.mark.parametrize("order_id", ["carbo", None])
def test_a_draft_naming_an_unsaved_medication_with_no_id_is_checked(client: FlaskClient, order_id: str | None) -> None:
    """FHIR R4 Bundle: an unsaved resource may have no id at all, only its entry's fullUrl (urn:uuid) -- a draft order
    naming its Medication so was read as naming none: carboplatin at ANC 420 got no card."""
    order = {"resourceType": "MedicationRequest", "status": "draft", "intent": "order",
             "subject": {"reference": f"Patient/{PATIENT_ID}"},
             "medicationReference": {"reference": "urn:uuid:6f1d2c9e-3b7a-4f0e-9c55-0d8e2a7b4c31"}}
    if order_id is not None:
        order["id"] = order_id
    medication = {"resourceType": "Medication",
                  "code": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "40048"}]}}
    body = order_request("order-sign", anc(420), drafts=[])
    body["context"]["draftOrders"]["entry"] = [
        {"fullUrl": "urn:uuid:6f1d2c9e-3b7a-4f0e-9c55-0d8e2a7b4c31", "resource": medication},
        {"fullUrl": "urn:uuid:0a9b8c7d-6e5f-4a3b-8c2d-1e0f9a8b7c6d", "resource": order}]
    (card,) = assert_cds_response(client.post(SIGN, json=body).get_json())
    # (named by the drug it was recognised as, and its code: it was "code 40048")
    assert card["indicator"] == "critical"
    assert card["summary"] == "Carboplatin (code 40048): chemotherapy with ANC 420/uL (Nov 24)"
    assert "- Recognised as carboplatin." in card["detail"].splitlines()


def test_an_order_sent_as_its_atc_code_alone_is_named_once(client: FlaskClient) -> None:
    """R9 evidence 1: an antineoplastic ordered by its ATC code alone is named by that code -- once (it was
    "ATC L01AA01 (code L01AA01)", the one code twice)."""
    body = order_request("order-sign", anc(420), drafts=[draft("L01AA01", "http://www.whocc.no/atc")])
    (card,) = assert_cds_response(client.post(SIGN, json=body).get_json())
    assert card["indicator"] == "critical"
    assert card["summary"] == "ATC L01AA01: chemotherapy with ANC 420/uL (Nov 24)"
    assert "- Recognised as ATC L01AA01." in card["detail"].splitlines()


@pytest.mark.parametrize("reference", ["Medication/carboplatin", "Medication/carboplatin/_history/2"])
def test_service_request_vaccine_and_medication_reference(client: FlaskClient, reference: str) -> None:
    """A live vaccine ordered as a ServiceRequest, and a drug named through a bundled Medication (a reference may
    name a version)."""
    vaccine = draft("21", CVX, id="varicella", kind="ServiceRequest", text="Varicella vaccine")
    by_reference = draft("x", id="carbo")
    del by_reference["medicationCodeableConcept"]
    by_reference["medicationReference"] = {"reference": reference}
    medication = {"resourceType": "Medication", "id": "carboplatin",
                  "code": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "40048"}]}}
    body = order_request("order-sign", anc(420), drafts=[vaccine, by_reference, medication])
    cards = assert_cds_response(client.post(SIGN, json=body).get_json())
    assert [c["suggestions"][0]["actions"][0]["resourceId"] for c in cards] == [
        "ServiceRequest/varicella", "MedicationRequest/carbo"]


@pytest.mark.parametrize("order", [
    draft("03", CVX, id="mmr"),  # a live vaccine (MMR)
    draft("03", CVX, id="mmr", kind="ServiceRequest"),
    draft("2626", id="clozapine"),
    draft("40048", id="carboplatin"),
    draft("161", id="acetaminophen-pr", route="37161004"),  # by the rectal route
], ids=["live-vaccine", "live-vaccine-service-request", "clozapine", "antineoplastic", "rectal"])
@pytest.mark.parametrize("do_not_perform", [True, False])
def test_an_order_not_to_give_it_is_not_checked(client: FlaskClient, order: dict[str, Any],
                                                do_not_perform: bool) -> None:
    """R9 checks orders to give a drug, a vaccine or a route. A draft with FHIR's modifier `doNotPerform: true`
    orders that it NOT be given ("no MMR vaccine"): no card at ANC 300 -- it had been a critical card suggesting
    to delete that very order. The same draft without it is checked."""
    body = order_request("order-sign", anc(300), drafts=[{**order, "doNotPerform": do_not_perform}])
    cards = assert_cds_response(client.post(SIGN, json=body).get_json())
    assert len(cards) == (0 if do_not_perform else 1)


def _naming_a_medication_not_sent(**changes: Any) -> dict[str, Any]:
    """A draft naming its drug only by a Medication the draftOrders Bundle does not carry, with no display."""
    order = {k: v for k, v in draft("0", id="unknown").items() if k != "medicationCodeableConcept"}
    return order | {"medicationReference": {"reference": "Medication/not-sent"}} | changes


def test_a_draft_by_the_rectal_route_is_checked_when_its_drug_cannot_be_named(client: FlaskClient) -> None:
    """R9 "any order by the rectal route": its drug named only by a Medication not sent, given rectally (SNOMED
    37161004), at ANC 300 -- a warning (the draft had been taken for one with no medication yet: no card)."""
    order = _naming_a_medication_not_sent(dosageInstruction=[{"route": {"coding": [
        {"system": "http://snomed.info/sct", "code": "37161004"}]}}])
    (card,) = assert_cds_response(client.post(SIGN, json=order_request("order-sign", anc(300),
                                                                        drafts=[order])).get_json())
    assert card["indicator"] == "warning" and "rectal route" in card["summary"]


def test_a_drug_linked_to_neutropenia_with_a_wbc_and_no_differential_asks_for_the_count(client: FlaskClient) -> None:
    """R4/R9: a WBC of 1,200 with no differential -- the ANC at most 1,200, perhaps under the row's 1,000 -- and a
    TMP-SMX order: a warning that says so and suggests the CBC with differential (there was no card)."""
    wbc = {**anc(1.2, unit="10*3/uL", when=ago(hours=3)),
           "code": {"coding": [{"system": "http://loinc.org", "code": "6690-2"}]}}
    body = order_request("order-sign", wbc, drafts=[draft("10831", id="tmp-smx", text="TMP-SMX 800-160 mg tablet")])
    (card,) = assert_cds_response(client.post(SIGN, json=body).get_json())
    assert card["indicator"] == "warning"
    assert card["summary"] == "TMP-SMX 800-160 mg tablet: drug linked to neutropenia with ANC ≤1,200/uL (Nov 25)"
    assert card["detail"].startswith("**The ANC, known only as an upper bound (≤1,200/uL), may be below 1,000/uL:")
    assert [s["label"] for s in card["suggestions"]] == ["Remove the draft order", "Order a CBC with differential"]


def test_a_live_vaccine_while_an_antineoplastic_order_is_still_active(client: FlaskClient) -> None:
    """Capecitabine prescribed 120 days ago with a sig in words only, still active: the patient is on chemotherapy,
    so an MMR is contraindicated whatever the order's date -- critical, the order named, its removal recommended."""
    chemo = medication("MedicationRequest", "194000", ago(days=120),
                       dosageInstruction=[{"text": "3 tablets twice daily on days 1-14 of each 21-day cycle"}])
    body = order_request("order-sign", anc(2500), drafts=[draft("03", CVX, id="mmr", text="MMR")],
                         context_resources={"medicationRequests": [chemo]})
    (card,) = assert_cds_response(client.post(SIGN, json=body).get_json())
    assert card["indicator"] == "critical"
    assert card["summary"] == "MMR: live vaccine during chemotherapy"
    assert card["detail"].splitlines()[0] == ("**Live vaccine during chemotherapy (capecitabine, an order or statement "
                                              "still active): live vaccines are contraindicated -- remove the draft "
                                              "order.**")
    assert card["suggestions"][0]["isRecommended"] is True
    assert card["suggestions"][0]["actions"] == [{"type": "delete", "description": "Remove MedicationRequest/mmr",
                                                  "resourceId": "MedicationRequest/mmr"}]


def _test_of_a_drug_level(text: str, coding: dict[str, str] | None = None) -> dict[str, Any]:
    code: dict[str, Any] = {"text": text, **({"coding": [coding]} if coding else {})}
    return {"resourceType": "ServiceRequest", "id": "level", "status": "draft", "intent": "order",
            "subject": {"reference": f"Patient/{PATIENT_ID}"}, "code": code}


@pytest.mark.parametrize("order", [
    _test_of_a_drug_level("VANCOMYCIN TROUGH"),
    _test_of_a_drug_level("Vancomycin [Mass/volume] in Serum or Plasma --trough",
                          {"system": "http://loinc.org", "code": "4092-3"}),
    _test_of_a_drug_level("Methotrexate level"),
    _test_of_a_drug_level("CLOZAPINE LEVEL"),
], ids=["vancomycin-trough", "vancomycin-trough-loinc", "methotrexate-level", "clozapine-level"])
def test_a_service_request_naming_a_drug_is_no_drug_order(client: FlaskClient, order: dict[str, Any]) -> None:
    """R9's drug rows are for drugs ordered, which a ServiceRequest never orders: one naming a drug is a test of its
    level (a vancomycin trough, every day of a febrile neutropenia treated with vancomycin). At ANC 420: no card --
    not 'drug linked to neutropenia', 'chemotherapy' or 'clozapine' for a blood test."""
    body = order_request("order-sign", anc(420), drafts=[order])
    assert assert_cds_response(client.post(SIGN, json=body).get_json()) == []


def test_a_service_request_coded_as_a_drug_is_checked_as_one(client: FlaskClient) -> None:
    """A code names what it names (R9 evidence 1-3), whatever resource carries it: carboplatin by its RxNorm code in a
    ServiceRequest, at ANC 420 -- critical."""
    order = _test_of_a_drug_level("carboplatin", {"system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                                                  "code": "40048"})
    body = order_request("order-sign", anc(420), drafts=[order])
    (card,) = assert_cds_response(client.post(SIGN, json=body).get_json())
    assert card["indicator"] == "critical" and "chemotherapy" in card["summary"]


def test_a_live_vaccine_named_in_a_service_request_is_still_checked(client: FlaskClient) -> None:
    """A vaccine may be ordered as a ServiceRequest, named only ("YELLOW FEVER VACCINE INJ"): at ANC 420, critical."""
    (card,) = assert_cds_response(client.post(SIGN, json=order_request(
        "order-sign", anc(420), drafts=[_test_of_a_drug_level("YELLOW FEVER VACCINE INJ")])).get_json())
    assert card["indicator"] == "critical"
    assert card["suggestions"][0]["actions"][0]["resourceId"] == "ServiceRequest/level"
