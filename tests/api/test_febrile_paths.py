"""R7 through the whole service: the possible febrile neutropenia a fever makes of what the record holds -- the last
count however old, or only a count from before the chemotherapy dose."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.builders import ago, anc, bundle, hook_request, medication, temperature
from tests.contract import assert_cds_response

URL = "/cds-services/neutropenia-patient-view"


def test_fever_with_a_last_anc_below_500_older_than_the_look_back(client: FlaskClient) -> None:
    """R7: "an ANC < 500 that is older than 7 days (no newer result)" -- 200 days old is older than R6's 90-day
    look-back, which bounds the info card of R6, not R7: the record's old results are read for it."""
    body = hook_request(anc(300, when="2026-05-09T08:00:00Z"))
    body["prefetch"]["vitals"] = bundle(temperature("38.6", when=ago(hours=1)))
    (card,) = assert_cds_response(client.post(URL, json=body).get_json())
    assert card["indicator"] == "critical"
    assert card["summary"] == "Possible febrile neutropenia: 38.6 °C (Nov 25), last ANC 300/uL (May 9) -- urgent CBC"


def test_without_a_fever_an_old_anc_beyond_the_look_back_gives_no_card(client: FlaskClient) -> None:
    """R6: an abnormal ANC earns the "no current ANC" card within the 90-day look-back only."""
    body = hook_request(anc(300, when="2026-05-09T08:00:00Z"))
    assert assert_cds_response(client.post(URL, json=body).get_json()) == []


def test_fever_days_after_chemotherapy_with_only_the_count_from_before_the_dose(client: FlaskClient) -> None:
    """The classic presentation: carboplatin given 5 days ago, the CBC before it normal (2,500, current by R6), a
    fever now. The count before the dose says nothing of its nadir: an urgent CBC, critical."""
    body = hook_request(anc(2500, when=ago(days=6)))
    body["prefetch"]["vitals"] = bundle(temperature("38.6", when=ago(hours=1)))
    body["prefetch"]["medicationAdministrations"] = bundle(
        medication("MedicationAdministration", "40048", ago(days=5)))
    (card,) = assert_cds_response(client.post(URL, json=body).get_json())
    assert card["indicator"] == "critical"
    assert card["summary"] == ("Possible febrile neutropenia: 38.6 °C (Nov 25), 5 days after chemotherapy, no ANC "
                               "since -- urgent CBC")
    assert "- The last ANC came before that dose: it says nothing of the nadir." in card["detail"].splitlines()


def test_fever_on_daily_oral_chemotherapy_taken_for_two_months(client: FlaskClient) -> None:
    """R7 "an antineoplastic given or started 3 to 14 days before": capecitabine taken daily since Sep 26 (a
    MedicationStatement, active, with no end) was given 3-14 days ago, whenever it started -- ANC 800 with a fever
    is febrile neutropenia by the proxy."""
    body = hook_request(anc(800))
    body["prefetch"]["vitals"] = bundle(temperature("38.6", when=ago(hours=1)))
    body["prefetch"]["medicationStatements"] = bundle(medication(
        "MedicationStatement", "194000", None, status="active", effectivePeriod={"start": "2026-09-26T08:00:00Z"}))
    (card,) = assert_cds_response(client.post(URL, json=body).get_json())
    assert card["indicator"] == "critical"
    assert card["extension"]["neutropenia-cds"]["finding"] == "febrile-neutropenia"
    assert ("- **Chemotherapy**: capecitabine, given since Sep 26 (60 days), ongoing: likely at or near the nadir"
            in card["detail"])


def test_fever_after_a_bolus_with_only_the_count_from_before_it_while_a_daily_course_goes_on(
        client: FlaskClient) -> None:
    """(found with the CDS Hooks Sandbox: no card.) Capecitabine taken daily since Sep 26, carboplatin given 5 days
    ago, the CBC the day before the carboplatin normal, a fever now. The count was taken during the course but
    before the bolus, so it says nothing of the bolus's nadir: possible febrile neutropenia, as without the course.
    The card names the carboplatin."""
    body = hook_request(anc(2500, when=ago(days=6)))
    body["prefetch"]["vitals"] = bundle(temperature("38.6", when=ago(hours=1)))
    body["prefetch"]["medicationAdministrations"] = bundle(
        medication("MedicationAdministration", "40048", ago(days=5)))
    body["prefetch"]["medicationStatements"] = bundle(medication(
        "MedicationStatement", "194000", None, status="active", effectivePeriod={"start": "2026-09-26T08:00:00Z"}))
    (card,) = assert_cds_response(client.post(URL, json=body).get_json())
    assert card["indicator"] == "critical"
    assert card["summary"] == ("Possible febrile neutropenia: 38.6 °C (Nov 25), 5 days after chemotherapy, no ANC "
                               "since -- urgent CBC")
    assert "- **Chemotherapy**: carboplatin, Nov 20 (5 days ago): likely at or near the nadir" in card["detail"]


def test_fever_with_a_count_taken_after_the_bolus_is_read_against_it(client: FlaskClient) -> None:
    """The same course and bolus, and a count taken 3 days after the carboplatin: it shows the bolus's effect, so
    R7 reads it -- 800 with a dose 3-14 days ago is febrile neutropenia; 2,500 gives no fever card."""
    for value, finding in ((800, "febrile-neutropenia"), (2500, None)):
        body = hook_request(anc(value, when=ago(days=2)))
        body["prefetch"]["vitals"] = bundle(temperature("38.6", when=ago(hours=1)))
        body["prefetch"]["medicationAdministrations"] = bundle(
            medication("MedicationAdministration", "40048", ago(days=5)))
        body["prefetch"]["medicationStatements"] = bundle(medication(
            "MedicationStatement", "194000", None, status="active",
            effectivePeriod={"start": "2026-09-26T08:00:00Z"}))
        cards = assert_cds_response(client.post(URL, json=body).get_json())
        assert [c["extension"]["neutropenia-cds"]["finding"] for c in cards] == ([finding] if finding else [])


def test_fever_on_a_daily_cdk46_inhibitor_with_an_anc_below_1000_is_febrile_neutropenia(client: FlaskClient) -> None:
    """R7's chemotherapy proxy for a drug an EHR names locally: palbociclib taken daily since Oct 1 ("IBRANCE 125 MG
    PO CAPS", an active MedicationStatement), ANC 800, a fever -- febrile neutropenia, critical (it was "moderate
    neutropenia with fever", a warning: palbociclib was on no list)."""
    statement = medication("MedicationStatement", "77", None, system="urn:oid:1.2.840.114350.1.13.0", status="active",
                           effectivePeriod={"start": "2026-10-01T08:00:00Z"})
    statement["medicationCodeableConcept"]["text"] = "IBRANCE 125 MG PO CAPS"
    body = hook_request(anc(800))
    body["prefetch"]["vitals"] = bundle(temperature("38.6", when=ago(hours=1)))
    body["prefetch"]["medicationStatements"] = bundle(statement)
    (card,) = assert_cds_response(client.post(URL, json=body).get_json())
    assert card["indicator"] == "critical"
    assert card["extension"]["neutropenia-cds"]["finding"] == "febrile-neutropenia"
    assert ("- **Chemotherapy**: palbociclib (recognised by name), given since Oct 1 (55 days), ongoing"
            in card["detail"])


NOT_CHECKED = ("- **Chemotherapy not checked**: the medication or procedure data were not all available; after an "
               "antineoplastic 3-14 days ago this is **febrile neutropenia: empiric broad-spectrum antibiotics within "
               "60 minutes**.")


def test_fever_with_moderate_neutropenia_when_chemotherapy_could_not_be_checked(client: FlaskClient) -> None:
    """R7: fever and an ANC of 800 are febrile neutropenia after chemotherapy 3-14 days ago, moderate neutropenia
    with fever without. When the EHR sends no medication or procedure data (and no FHIR server to read them from),
    the card cannot tell which -- it says so in the words of R7, not only in the list of data not available."""
    body = hook_request(anc(800))
    body["prefetch"]["vitals"] = bundle(temperature("38.5", when=ago(hours=1)))
    assert not {"medicationRequests", "medicationAdministrations", "medicationStatements", "procedures"} & set(
        body["prefetch"])
    (card,) = assert_cds_response(client.post(URL, json=body).get_json())
    assert card["indicator"] == "warning"
    assert card["extension"]["neutropenia-cds"]["finding"] == "fever-with-neutropenia"
    assert NOT_CHECKED in card["detail"].splitlines()


def test_the_same_card_says_nothing_of_chemotherapy_when_it_was_checked(client: FlaskClient) -> None:
    body = hook_request(anc(800))
    body["prefetch"]["vitals"] = bundle(temperature("38.5", when=ago(hours=1)))
    for key in ("medicationRequests", "medicationAdministrations", "medicationStatements", "procedures"):
        body["prefetch"][key] = bundle()  # searched, and nothing found
    (card,) = assert_cds_response(client.post(URL, json=body).get_json())
    assert card["extension"]["neutropenia-cds"]["finding"] == "fever-with-neutropenia"
    assert "Chemotherapy not checked" not in card["detail"]


def test_fever_with_no_current_anc_when_chemotherapy_could_not_be_checked(client: FlaskClient) -> None:
    """R7: fever now, no current ANC (the last, 800, ten days ago): after chemotherapy 3-14 days ago this is possible
    febrile neutropenia (critical, urgent CBC); without, the info card of R6. With no medication or procedure data the
    card cannot tell which -- it says so."""
    body = hook_request(anc(800, when=ago(days=10)))
    body["prefetch"]["vitals"] = bundle(temperature("38.5", when=ago(hours=1)))
    (card,) = assert_cds_response(client.post(URL, json=body).get_json())
    assert card["extension"]["neutropenia-cds"]["finding"] == "no-current-anc"
    assert ("- **Chemotherapy not checked**: the medication or procedure data were not all available; after an "
            "antineoplastic 3-14 days ago, fever now is **possible febrile neutropenia: get an urgent CBC with "
            "differential**.") in card["detail"].splitlines()


def test_fever_on_oral_chemotherapy_still_taken_from_a_start_no_record_gives(client: FlaskClient) -> None:
    """A MedicationStatement "capecitabine, active" with no effective[x] and no dateAsserted -- a patient-reported home
    medicine: it is being taken now, from a day nothing records. R7's 3-14 day window is never guessed, so this is
    not febrile neutropenia by the proxy; but a dose may fall in it, and ANC 800 with fever is possible febrile
    neutropenia (critical, urgent CBC), not only moderate neutropenia with fever."""
    body = hook_request(anc(800))
    body["prefetch"]["vitals"] = bundle(temperature("38.6", when=ago(hours=1)))
    for key in ("medicationRequests", "medicationAdministrations", "procedures"):
        body["prefetch"][key] = bundle()  # searched, and nothing found
    body["prefetch"]["medicationStatements"] = bundle(medication("MedicationStatement", "194000", None,
                                                                 status="active"))
    (card,) = assert_cds_response(client.post(URL, json=body).get_json())
    assert card["indicator"] == "critical"
    assert card["extension"]["neutropenia-cds"]["finding"] == "possible-febrile-neutropenia"
    assert card["summary"] == "Possible febrile neutropenia: 38.6 °C (Nov 25), last ANC 800/uL (Nov 24) -- urgent CBC"
    lines = card["detail"].splitlines()
    assert "- **Chemotherapy**: capecitabine, ongoing, since a date the record does not give." in lines


def test_fever_with_no_current_anc_while_oral_chemotherapy_is_still_ordered(client: FlaskClient) -> None:
    """Capecitabine ordered with no date, still active; fever now, and the last ANC, 2,500, twenty days old. No dose
    is dated in the 3-14 day window, but one may have been given then: as after a dose in the window, the safer
    reading is an urgent CBC whatever the last count was -- critical, never silence."""
    body = hook_request(anc(2500, when=ago(days=20)))
    body["prefetch"]["vitals"] = bundle(temperature("38.6", when=ago(hours=1)))
    for key in ("medicationAdministrations", "medicationStatements", "procedures"):
        body["prefetch"][key] = bundle()
    body["prefetch"]["medicationRequests"] = bundle(medication("MedicationRequest", "194000", None))  # active
    (card,) = assert_cds_response(client.post(URL, json=body).get_json())
    assert card["indicator"] == "critical"
    assert card["summary"] == "Possible febrile neutropenia: 38.6 °C (Nov 25), last ANC 2,500/uL (Nov 5) -- urgent CBC"
    assert "- **Chemotherapy**: capecitabine, ongoing, since a date the record does not give." in (
        card["detail"].splitlines())


def test_fever_with_an_antineoplastic_order_still_active_from_months_ago(client: FlaskClient) -> None:
    """Capecitabine prescribed 120 days ago with a sig in words only, still active; ANC 800 and a fever. No dose is
    dated in the 3-14 day window, but the order says nothing of the doses since its date: possible febrile
    neutropenia, critical, with the reason on the card."""
    body = hook_request(anc(800))
    body["prefetch"]["vitals"] = bundle(temperature("38.6", when=ago(hours=1)))
    for key in ("medicationAdministrations", "medicationStatements", "procedures"):
        body["prefetch"][key] = bundle()
    body["prefetch"]["medicationRequests"] = bundle(medication(
        "MedicationRequest", "194000", ago(days=120),
        dosageInstruction=[{"text": "3 tablets twice daily on days 1-14 of each 21-day cycle"}]))
    (card,) = assert_cds_response(client.post(URL, json=body).get_json())
    assert card["indicator"] == "critical"
    assert card["extension"]["neutropenia-cds"]["finding"] == "possible-febrile-neutropenia"
    assert "- **Chemotherapy**: capecitabine, Jul 28 (120 days ago), still active." in card["detail"].splitlines()


def test_a_fahrenheit_reading_sent_as_celsius_is_no_fever_and_the_card_says_so(client: FlaskClient) -> None:
    """R10 (thresholds.toml R7, POLICY): 98.6 "Cel" -- a normal temperature in Fahrenheit sent as Celsius -- was read
    as a fever of 98.6 °C: the febrile neutropenia emergency card, "98.6 °C / 209.5 °F", for a patient without fever.
    Now the severe neutropenia card stands, and an info card names the reading and asks to check its unit."""
    body = hook_request(anc(300))
    body["prefetch"]["vitals"] = bundle(temperature("98.6", "Cel", when=ago(hours=1)))
    severe, problem = assert_cds_response(client.post(URL, json=body).get_json())
    assert (severe["indicator"], severe["summary"]) == ("critical", "Severe neutropenia: ANC 300/uL (Nov 24)")
    assert (problem["indicator"], problem["summary"]) == (
        "info", "Temperature of 98.6 Cel is no body temperature; check its unit")
    assert ("- Temperature (LOINC 8310-5), Nov 25: 98\\.6 Cel, which no living patient's body temperature is: check "
            "its unit.") in problem["detail"].splitlines()
