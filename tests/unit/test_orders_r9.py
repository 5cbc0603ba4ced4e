"""R9: every order-entry row, flagged and not flagged at its ANC edges."""

from __future__ import annotations

from typing import Any

import pytest

from cds_service.clinical.model import DraftOrder, OrderReason, OrderRule
from cds_service.clinical.orders import check_orders
from cds_service.fhir.orders import read_draft_orders
from cds_service.knowledge import Knowledge
from tests.builders import CVX, ago, anc, bundle, draft, medication, observation
from tests.conftest import AssessFn

LIVE = ["03", "94", "04", "05", "06", "07", "38", "21", "121", "111", "149", "333", "125", "37", "183", "184", "25",
        "116", "119", "74", "122", "19", "174", "02", "178", "179", "182", "143", "54", "55", "56", "330", "317",
        "75", "204"]
NOT_LIVE = ["187", "101", "206", "140", "141", "150", "158", "161", "197"]


def _orders(*drafts: dict[str, Any]) -> list[DraftOrder]:
    return read_draft_orders({"draftOrders": bundle(*drafts)}, selected_only=False)[0]


def _check(assess_record: AssessFn, knowledge: Knowledge, order: dict[str, Any],
           *record: dict[str, Any], birth_date: str = "1980-05-01") -> list[tuple[OrderRule, OrderReason, str]]:
    assessment = assess_record(*record, birth_date=birth_date)
    risks = check_orders(_orders(order), assessment, knowledge)
    return [(f.rule, f.reason, f.indicator) for risk in risks for f in risk.findings]


@pytest.mark.parametrize("cvx", LIVE)
def test_r9_every_live_vaccine_is_flagged_below_500(assess_record: AssessFn, knowledge: Knowledge, cvx: str) -> None:
    found = _check(assess_record, knowledge, draft(cvx, CVX), anc(499))
    assert found == [(OrderRule.LIVE_VACCINE, OrderReason.ANC_BELOW_CRITICAL, "critical")]


@pytest.mark.parametrize("cvx", NOT_LIVE)
def test_r9_non_live_vaccines_never_flagged(assess_record: AssessFn, knowledge: Knowledge, cvx: str) -> None:
    chemo = medication("MedicationAdministration", "3002", ago(days=10))
    assert _check(assess_record, knowledge, draft(cvx, CVX), anc(99), chemo) == []


@pytest.mark.parametrize(("value", "expected"), [
    (499, [(OrderRule.LIVE_VACCINE, OrderReason.ANC_BELOW_CRITICAL, "critical")]),
    (500, [(OrderRule.LIVE_VACCINE, OrderReason.ANC_BELOW_WARNING, "warning")]),
    (1499, [(OrderRule.LIVE_VACCINE, OrderReason.ANC_BELOW_WARNING, "warning")]),
    (1500, []),
])
def test_r9_live_vaccine_anc_edges(assess_record: AssessFn, knowledge: Knowledge, value: int,
                                   expected: list[tuple[OrderRule, OrderReason, str]]) -> None:
    assert _check(assess_record, knowledge, draft("03", CVX), anc(value)) == expected


# R9: "ANC 500 to below the LLN for age (R5)" -- the limit at the age of collection (NOW is 2026-11-25T12:00Z; each
# ANC collected an hour before NOW): < 72 h 1800; 72 h to < 2 weeks 1500; 2 weeks to < 1 year 1000; a birth weight
# under 1500 g, from 61 h to 28 days, 1100. Live vaccines are given mostly in infancy (rotavirus at 2, 4 and 6 months).
_BIRTHS = {"under 72 h": ("2026-11-24", None), "1 week": ("2026-11-18", None), "6 months": ("2026-05-25", None),
           "very low birth weight, 10 days": ("2026-11-15", 1200), "adult": ("1980-05-01", None)}


@pytest.mark.parametrize(("age", "value", "expected"), [
    ("under 72 h", 1799, "warning"), ("under 72 h", 1800, None), ("under 72 h", 1500, "warning"),
    ("1 week", 1499, "warning"), ("1 week", 1500, None),
    ("6 months", 999, "warning"), ("6 months", 1000, None), ("6 months", 1499, None), ("6 months", 500, "warning"),
    ("6 months", 499, "critical"),
    ("very low birth weight, 10 days", 1099, "warning"), ("very low birth weight, 10 days", 1100, None),
    ("adult", 1499, "warning"), ("adult", 1500, None),
])
def test_r9_live_vaccine_warning_is_below_the_lln_for_age(assess_record: AssessFn, knowledge: Knowledge, age: str,
                                                          value: int, expected: str | None) -> None:
    born, grams = _BIRTHS[age]
    record = [anc(value, when=ago(hours=1))]
    if grams is not None:
        record.append(observation("8339-4", grams, "g", when=f"{born}T00:00:00Z"))
    found = _check(assess_record, knowledge, draft("116", CVX), *record, birth_date=born)  # rotavirus, live, oral
    assert [indicator for _, _, indicator in found] == ([expected] if expected else [])


@pytest.mark.parametrize(("days", "flagged"), [(90, True), (91, False)])
def test_r9_live_vaccine_within_90_days_of_chemotherapy(assess_record: AssessFn, knowledge: Knowledge, days: int,
                                                        flagged: bool) -> None:
    chemo = medication("MedicationAdministration", "3002", ago(days=days))
    found = _check(assess_record, knowledge, draft("03", CVX), anc(2500), chemo)
    assert found == ([(OrderRule.LIVE_VACCINE, OrderReason.RECENT_CHEMOTHERAPY, "critical")] if flagged else [])


@pytest.mark.parametrize(("start", "end", "status", "flagged"), [
    (120, None, "active", True),  # taken daily since four months ago: the last dose is today
    (200, 90, "completed", True), (200, 91, "completed", False),  # the last dose 90 / 91 days ago
])
def test_r9_live_vaccine_within_90_days_of_a_course_of_chemotherapy(assess_record: AssessFn, knowledge: Knowledge,
                                                                    start: int, end: int | None, status: str,
                                                                    flagged: bool) -> None:
    period = {"start": ago(days=start), **({"end": ago(days=end)} if end is not None else {})}
    course = medication("MedicationStatement", "194000", None, status=status, effectivePeriod=period)  # capecitabine
    found = _check(assess_record, knowledge, draft("03", CVX), anc(2500), course)
    assert found == ([(OrderRule.LIVE_VACCINE, OrderReason.RECENT_CHEMOTHERAPY, "critical")] if flagged else [])


# An active order or statement of an antineoplastic that no date places: the drug is being taken now (FHIR: an
# "active" statement is still taken), so it is within 90 days. A statement with no effective[x] is dated by
# dateAsserted -- taken then -- as it would be by an effectiveDateTime; one that is over and dated by nothing says
# nothing of when.
@pytest.mark.parametrize(("kind", "status", "fields", "flagged"), [
    ("MedicationStatement", "active", {}, True),
    ("MedicationStatement", "on-hold", {}, True),
    ("MedicationStatement", "completed", {}, False),
    ("MedicationRequest", "active", {}, True),
    ("MedicationRequest", "on-hold", {}, True),
    ("MedicationRequest", "completed", {}, False),
    ("MedicationStatement", "active", {"dateAsserted": ago(days=400)}, True),  # taken then, and still
    ("MedicationStatement", "completed", {"dateAsserted": ago(days=90)}, True),
    ("MedicationStatement", "completed", {"dateAsserted": ago(days=91)}, False),
    ("MedicationStatement", "active", {"dateAsserted": "last spring"}, True),  # no FHIR time: read as undated
    # a date that is no FHIR time places nothing, as if absent -- the drug is never dropped for it
    ("MedicationRequest", "active", {"authoredOn": "28/07/2026"}, True),  # a day-first date, as converters write
    ("MedicationRequest", "active", {"authoredOn": 20260728}, True),
    ("MedicationStatement", "active", {"effectiveDateTime": "2026-07-28 09:00"}, True),
    ("MedicationStatement", "active", {"effectivePeriod": {"start": "July 2026"}}, True),
    ("MedicationStatement", "active", {"effectivePeriod": "since July"}, True),
    ("MedicationRequest", "active", {"dosageInstruction": [{"timing": {"repeat": {
        "boundsPeriod": {"start": "28/07/2026"}, "frequency": 2, "period": 1, "periodUnit": "d"}}}]}, True),
    ("MedicationStatement", "completed", {"effectiveDateTime": "28/07/2026"}, False),  # over, and dated by nothing
])
def test_r9_live_vaccine_with_chemotherapy_no_date_places(assess_record: AssessFn, knowledge: Knowledge, kind: str,
                                                          status: str, fields: dict[str, Any], flagged: bool) -> None:
    chemo = medication(kind, "194000", None, status=status, **fields)  # capecitabine
    found = _check(assess_record, knowledge, draft("03", CVX), anc(2500), chemo)
    assert found == ([(OrderRule.LIVE_VACCINE, OrderReason.RECENT_CHEMOTHERAPY, "critical")] if flagged else [])


# R9 "antineoplastic within 90 days", the safer reading: an antineoplastic order or statement still active is
# chemotherapy now, whatever its date -- capecitabine prescribed four months ago with a sig in words only ("twice
# daily on days 1-14 of each 21-day cycle"), still active, is being taken. One that is over counts from its date.
@pytest.mark.parametrize(("kind", "status", "days", "expected"), [
    ("MedicationRequest", "active", 120, OrderReason.ACTIVE_CHEMOTHERAPY),
    ("MedicationRequest", "on-hold", 120, OrderReason.ACTIVE_CHEMOTHERAPY),
    ("MedicationRequest", "completed", 120, None),
    ("MedicationRequest", "stopped", 120, None),
    ("MedicationStatement", "active", 120, OrderReason.RECENT_CHEMOTHERAPY),  # still taken: its last day is today
    ("MedicationStatement", "completed", 120, None),
    ("MedicationRequest", "active", 90, OrderReason.RECENT_CHEMOTHERAPY),  # within 90 days by its date
])
def test_r9_live_vaccine_with_an_antineoplastic_order_still_active(assess_record: AssessFn, knowledge: Knowledge,
                                                                   kind: str, status: str, days: int,
                                                                   expected: OrderReason | None) -> None:
    chemo = medication(kind, "194000", ago(days=days), status=status,
                       dosageInstruction=[{"text": "3 tablets twice daily on days 1-14 of each 21-day cycle"}])
    found = _check(assess_record, knowledge, draft("03", CVX), anc(2500), chemo)
    assert found == ([(OrderRule.LIVE_VACCINE, expected, "critical")] if expected else [])


@pytest.mark.parametrize(("repeat", "expected"), [
    ({"boundsPeriod": {"start": ago(days=-7)}}, OrderReason.ACTIVE_CHEMOTHERAPY),  # the next cycle, a week from now
    ({"count": 1}, None),  # one dose, on the order's date 120 days ago: nothing since
    ({"frequency": 2, "period": 1, "periodUnit": "d"}, OrderReason.RECENT_CHEMOTHERAPY),  # twice a day, to today
])
def test_r9_live_vaccine_with_an_active_antineoplastic_order_by_its_timing(
        assess_record: AssessFn, knowledge: Knowledge, repeat: dict[str, Any], expected: OrderReason | None) -> None:
    chemo = medication("MedicationRequest", "194000", ago(days=120), dosageInstruction=[{"timing": {"repeat": repeat}}])
    found = _check(assess_record, knowledge, draft("03", CVX), anc(2500), chemo)
    assert found == ([(OrderRule.LIVE_VACCINE, expected, "critical")] if expected else [])


def test_r9_an_active_antineoplastic_order_of_another_patient_is_not_chemotherapy(assess_record: AssessFn,
                                                                                  knowledge: Knowledge) -> None:
    chemo = medication("MedicationRequest", "194000", ago(days=120), subject={"reference": "Patient/other"})
    assert _check(assess_record, knowledge, draft("03", CVX), anc(2500), chemo) == []


@pytest.mark.parametrize(("value", "expected"), [
    (499, [(OrderRule.ANTINEOPLASTIC, OrderReason.ANC_BELOW_CRITICAL, "critical")]),
    (500, [(OrderRule.ANTINEOPLASTIC, OrderReason.ANC_BELOW_WARNING, "warning")]),
    (1499, [(OrderRule.ANTINEOPLASTIC, OrderReason.ANC_BELOW_WARNING, "warning")]),
    (1500, []),
    (None, [(OrderRule.ANTINEOPLASTIC, OrderReason.NO_CURRENT_ANC, "warning")]),
])
def test_r9_antineoplastic(assess_record: AssessFn, knowledge: Knowledge, value: int | None,
                           expected: list[tuple[OrderRule, OrderReason, str]]) -> None:
    labs = [anc(value)] if value is not None else [anc(300, when=ago(days=8))]
    assert _check(assess_record, knowledge, draft("40048"), *labs) == expected


CLOZAPINE = [(OrderRule.CLOZAPINE, OrderReason.ANC_BELOW_WARNING, "warning"),
             (OrderRule.ASSOCIATED_DRUG, OrderReason.ANC_BELOW_WARNING, "warning")]


@pytest.mark.parametrize(("value", "expected"), [
    (1500, []),
    (1499, [(OrderRule.CLOZAPINE, OrderReason.ANC_BELOW_WARNING, "warning")]),
    (1000, [(OrderRule.CLOZAPINE, OrderReason.ANC_BELOW_WARNING, "warning")]),
    (999, CLOZAPINE),  # also below the associated-drug limit of 1000
    (499, [(OrderRule.CLOZAPINE, OrderReason.ANC_BELOW_CRITICAL, "critical"),
           (OrderRule.ASSOCIATED_DRUG, OrderReason.ANC_BELOW_CRITICAL, "critical")]),
    (None, [(OrderRule.CLOZAPINE, OrderReason.NO_CURRENT_ANC, "warning")]),
])
def test_r9_clozapine_start_general(assess_record: AssessFn, knowledge: Knowledge, value: int | None,
                                    expected: list[tuple[OrderRule, OrderReason, str]]) -> None:
    labs = [anc(value)] if value is not None else []
    assert _check(assess_record, knowledge, draft("197535"), *labs) == expected


def _duffy_null() -> list[dict[str, Any]]:
    def antigen(code: str) -> dict[str, Any]:
        resource = observation(code, None, when="2025-01-01T00:00:00Z", specimen="Specimen/rbc")
        resource["valueCodeableConcept"] = {"coding": [{"system": "http://loinc.org", "code": "LA6577-6"}]}
        return resource
    return [antigen("1027-2"), antigen("1033-0")]


@pytest.mark.parametrize(("value", "expected"), [
    (1000, []),  # start threshold 1000 with documented Duffy-null
    (999, CLOZAPINE),
])
def test_r9_clozapine_start_duffy_null(assess_record: AssessFn, knowledge: Knowledge, value: int,
                                       expected: list[tuple[OrderRule, OrderReason, str]]) -> None:
    assert _check(assess_record, knowledge, draft("2626"), anc(value), *_duffy_null()) == expected


def _wbc(per_ul: int) -> dict[str, Any]:
    """A WBC with no differential: the ANC is at most it (R4 bound)."""
    return observation("6690-2", per_ul / 1000, "10*3/uL", when=ago(hours=3))


ASSOCIATED, RECTAL, MAY_BE_BELOW = OrderRule.ASSOCIATED_DRUG, OrderRule.RECTAL_ROUTE, OrderReason.ANC_MAY_BE_BELOW


# An ANC known only as an upper bound leaves open whether the count is below a row's limit: the row warns that it may
# be, and asks for a CBC with differential (the safer reading; these rows were silent). A bound below the limit fires
# the row as a count would; a WBC at or above the LLN is no bound at all (R4: it says nothing).
@pytest.mark.parametrize(("order", "record", "expected"), [
    (draft("10831"), [_wbc(1200)], [(ASSOCIATED, MAY_BE_BELOW, "warning")]),  # TMP-SMX: the count may be under 1000
    (draft("10831"), [_wbc(999)], [(ASSOCIATED, OrderReason.ANC_BELOW_WARNING, "warning")]),
    (draft("10831"), [_wbc(1500)], []),
    (draft("161", route="37161004"), [_wbc(1200)], [(RECTAL, MAY_BE_BELOW, "warning")]),  # may be under 500
    (draft("161", route="37161004"), [_wbc(499)], [(RECTAL, OrderReason.ANC_BELOW_CRITICAL, "warning")]),
    (draft("2626"), [_wbc(1200), *_duffy_null()],  # clozapine, documented Duffy-null: may be under its start 1000
     [(OrderRule.CLOZAPINE, MAY_BE_BELOW, "warning"), (ASSOCIATED, MAY_BE_BELOW, "warning")]),
    (draft("2626"), [_wbc(1200)],  # under the general start of 1500 for certain
     [(OrderRule.CLOZAPINE, OrderReason.ANC_BELOW_WARNING, "warning"), (ASSOCIATED, MAY_BE_BELOW, "warning")]),
])
def test_r9_an_upper_bound_leaves_a_rows_limit_open(assess_record: AssessFn, knowledge: Knowledge,
                                                     order: dict[str, Any], record: list[dict[str, Any]],
                                                     expected: list[tuple[OrderRule, OrderReason, str]]) -> None:
    assert _check(assess_record, knowledge, order, *record) == expected


@pytest.mark.parametrize("rxnorm", ["2002", "2020", "6835", "8794", "9524", "3108", "10831", "198335", "121191",
                                    "1256", "103", "10485", "7145", "6851", "105585", "2348", "11118"])
@pytest.mark.parametrize(("value", "reason", "indicator"), [
    (999, OrderReason.ANC_BELOW_WARNING, "warning"), (499, OrderReason.ANC_BELOW_CRITICAL, "critical"),
    (1000, None, None),
])
def test_r9_neutropenia_associated_drugs(assess_record: AssessFn, knowledge: Knowledge, rxnorm: str, value: int,
                                         reason: OrderReason | None, indicator: str | None) -> None:
    found = [f for f in _check(assess_record, knowledge, draft(rxnorm), anc(value))
             if f[0] is OrderRule.ASSOCIATED_DRUG]
    assert found == ([(OrderRule.ASSOCIATED_DRUG, reason, indicator)] if reason else [])


@pytest.mark.parametrize(("value", "flagged"), [(499, True), (500, False)])
def test_r9_rectal_route(assess_record: AssessFn, knowledge: Knowledge, value: int, flagged: bool) -> None:
    suppository = draft("161", route="37161004")  # acetaminophen (not on any list), rectal
    found = _check(assess_record, knowledge, suppository, anc(value))
    assert found == ([(OrderRule.RECTAL_ROUTE, OrderReason.ANC_BELOW_CRITICAL, "warning")] if flagged else [])


def _local_route(display: str | None, text: str | None) -> dict[str, Any]:
    """A route as EHRs send it: their own code system, with a display and a text."""
    route: dict[str, Any] = {"coding": [{"system": "urn:oid:1.2.840.114350.1.13.0.1.7.4.698288.330", "code": "12",
                                         **({"display": display} if display else {})}]}
    return {**route, **({"text": text} if text else {})}


@pytest.mark.parametrize(("name", "route"), [
    # R9 "by the rectal route (suppository, enema)", named rather than coded: the safer reading
    ("acetaminophen 650 MG Rectal Suppository", None),  # the dose form of the product's name (RxNorm SCD)
    ("bisacodyl 10 MG Suppository", None),
    ("sodium phosphate Enema", None),
    ("Glycerin Suppositories Adult", None),  # plurals, as OTC product names have them
    ("Fleet Enemas, twin pack", None),
    ("ACETAMINOPHEN 650 MG PO TABS", _local_route("Rectal", None)),  # the route named, under a local code
    ("ACETAMINOPHEN 650 MG PO TABS", _local_route(None, "rectally")),
])
@pytest.mark.parametrize(("value", "flagged"), [(499, True), (500, False)])
def test_r9_rectal_route_named_in_the_order(assess_record: AssessFn, knowledge: Knowledge, name: str,
                                           route: dict[str, Any] | None, value: int, flagged: bool) -> None:
    order = draft("161", "http://example.org/local-drugs", text=name)
    if route is not None:
        order["dosageInstruction"] = [{"route": route}]
    found = _check(assess_record, knowledge, order, anc(value))
    assert found == ([(OrderRule.RECTAL_ROUTE, OrderReason.ANC_BELOW_CRITICAL, "warning")] if flagged else [])


@pytest.mark.parametrize(("name", "value", "flagged"), [("Barium enema", 499, True), ("Barium enema", 500, False),
                                                    ("Rectal swab for VRE", 499, True)])
def test_r9_a_service_by_the_rectal_route_is_an_order_by_the_rectal_route(
        assess_record: AssessFn, knowledge: Knowledge, name: str, value: int, flagged: bool) -> None:
    # the safer reading: a procedure by the rectal route is one too (neutropenic precautions: nothing rectal)
    order = draft("x", "http://example.org/local-procedures", text=name, kind="ServiceRequest")
    found = _check(assess_record, knowledge, order, anc(value))
    assert found == ([(OrderRule.RECTAL_ROUTE, OrderReason.ANC_BELOW_CRITICAL, "warning")] if flagged else [])


@pytest.mark.parametrize(("name", "route"), [
    ("miconazole nitrate 200 MG Vaginal Suppository", None),  # a vaginal suppository is not the rectal route
    ("alprostadil 500 MCG Urethral Suppository", None),
    ("miconazole 100 MG Suppository", _local_route("Vaginal", "Vaginal")),  # the route says which suppository
    ("acetaminophen 500 MG Oral Tablet", _local_route("Oral", "Oral")),
])
def test_r9_other_routes_are_not_rectal(assess_record: AssessFn, knowledge: Knowledge, name: str,
                                        route: dict[str, Any] | None) -> None:
    order = draft("161", "http://example.org/local-drugs", text=name)
    if route is not None:
        order["dosageInstruction"] = [{"route": route}]
    assert _check(assess_record, knowledge, order, anc(99)) == []


@pytest.mark.parametrize(("name", "kind"), [
    # the neutropenic precautions themselves, ordered with the patient's other orders: no card telling to avoid the
    # rectal route for an order that says so (each was a warning "rectal route with ANC 300")
    ("No rectal temperatures, suppositories or enemas", "ServiceRequest"),
    ("Neutropenic precautions: no rectal thermometers", "ServiceRequest"),
    ("Avoid rectal medications", "ServiceRequest"),
    ("Nothing per rectum", "ServiceRequest"),
    ("Do not give rectally", "MedicationRequest"),
])
def test_r9_an_order_that_forbids_the_rectal_route_is_not_one_by_it(assess_record: AssessFn, knowledge: Knowledge,
                                                                    name: str, kind: str) -> None:
    order = draft("161", "http://example.org/local-orders", text=name, kind=kind)
    assert _check(assess_record, knowledge, order, anc(300)) == []


def test_r9_oral_route_and_unlisted_drug_pass(assess_record: AssessFn, knowledge: Knowledge) -> None:
    assert _check(assess_record, knowledge, draft("161", route="26643006"), anc(99)) == []


# R9 "ANC < 500" / "ANC below 1000" / "below the LLN", with no current ANC (R6: none in the last 7 days): the safer
# reading is that the last ANC of the look-back (90 days), when it was below the row's limit and nothing newer says
# otherwise, still counts -- a warning that asks for a count before the order, never silence. (Chemotherapy and
# clozapine already ask for a count whenever there is no current ANC.)
STALE = OrderReason.NO_CURRENT_ANC
CARBAMAZEPINE, SUPPOSITORY = draft("2002"), draft("161", route="37161004")


@pytest.mark.parametrize(("order", "value", "days", "expected"), [
    (draft("03", CVX), 499, 8, [(OrderRule.LIVE_VACCINE, STALE, "warning")]),  # MMR
    (draft("03", CVX), 1499, 8, [(OrderRule.LIVE_VACCINE, STALE, "warning")]),  # below the adult LLN
    (draft("03", CVX), 1500, 8, []),
    (draft("03", CVX), 499, 89, [(OrderRule.LIVE_VACCINE, STALE, "warning")]),
    (draft("03", CVX), 499, 91, []),  # older than the look-back
    (CARBAMAZEPINE, 999, 8, [(OrderRule.ASSOCIATED_DRUG, STALE, "warning")]),
    (CARBAMAZEPINE, 1000, 8, []),
    (SUPPOSITORY, 499, 8, [(OrderRule.RECTAL_ROUTE, STALE, "warning")]),
    (SUPPOSITORY, 500, 8, []),
])
def test_r9_the_last_anc_of_the_look_back_counts_when_none_is_current(
        assess_record: AssessFn, knowledge: Knowledge, order: dict[str, Any], value: int, days: int,
        expected: list[tuple[OrderRule, OrderReason, str]]) -> None:
    assert _check(assess_record, knowledge, order, anc(value, when=ago(days=days))) == expected


def test_r9_a_current_anc_replaces_the_last_low_one(assess_record: AssessFn, knowledge: Knowledge) -> None:
    record = (anc(300, when=ago(days=20)), anc(2500, when=ago(days=1)))
    assert _check(assess_record, knowledge, draft("03", CVX), *record) == []


def test_r9_a_low_anc_older_than_the_look_back_asks_nothing_with_a_fever(assess_record: AssessFn,
                                                                         knowledge: Knowledge) -> None:
    """R7 reads the last ANC however old for a fever; an order row reads the look-back only (R6)."""
    fever = observation("8310-5", 38.6, "Cel", when=ago(hours=1))
    assert _check(assess_record, knowledge, draft("03", CVX), anc(300, when=ago(days=100)), fever) == []
    assert _check(assess_record, knowledge, draft("03", CVX), anc(300, when=ago(days=20)), fever) == [
        (OrderRule.LIVE_VACCINE, STALE, "warning")]


def test_r9_one_request_for_a_count_per_order(assess_record: AssessFn, knowledge: Knowledge) -> None:
    """Methotrexate is an antineoplastic and on the neutropenia-associated list: the antineoplastic row already asks
    for a count, so the associated row does not ask again."""
    found = _check(assess_record, knowledge, draft("6851"), anc(300, when=ago(days=8)))
    assert found == [(OrderRule.ANTINEOPLASTIC, STALE, "warning")]


@pytest.mark.parametrize(("order", "expected"), [
    (draft("10831"), [(ASSOCIATED, MAY_BE_BELOW, "warning")]),  # TMP-SMX
    (draft("161", route="37161004"), [(RECTAL, MAY_BE_BELOW, "warning")]),  # a suppository
])
def test_r9_the_last_anc_of_the_look_back_as_an_upper_bound_leaves_a_rows_limit_open(
        assess_record: AssessFn, knowledge: Knowledge, order: dict[str, Any],
        expected: list[tuple[OrderRule, OrderReason, str]]) -> None:
    """No current ANC; the last, ten days ago, a WBC of 1,200 with no differential: it may have been below the row's
    limit -- a warning asking for a count, as for a count below it (there was no card)."""
    bound = observation("6690-2", 1.2, "10*3/uL", when=ago(days=10))
    assert _check(assess_record, knowledge, order, bound) == expected


def test_r9_a_count_measured_under_a_later_bound_decides_the_row(assess_record: AssessFn,
                                                                  knowledge: Knowledge) -> None:
    """R6/R9: ANC 300 two days ago, a WBC of 1,200 with no differential today -- nothing shows the count has risen:
    an MMR order is critical, as with the 300 alone (it was a warning, the bound's band)."""
    found = _check(assess_record, knowledge, draft("03", CVX), anc(300, when=ago(days=2)), _wbc(1200))
    assert found == [(OrderRule.LIVE_VACCINE, OrderReason.ANC_BELOW_CRITICAL, "critical")]


# R10 with R9: a count that could not be read (an unknown unit, a WBC sent as a string) may be below any row's limit.
# Where it is newer than the ANC the rows read -- or there is no current ANC -- an order that would pass gets a warning
# that says so, never silence on an older count or on none; chemotherapy and clozapine ask for a count already when
# none is current.
UNREADABLE = OrderReason.ANC_UNREADABLE
CLOZAPINE, CARBOPLATIN, MMR = draft("2626"), draft("40048"), draft("03", CVX)


def _unreadable(role_code: str = "751-8", days: float = 1) -> dict[str, Any]:
    return observation(role_code, 0.3, "furlongs", when=ago(days=days))


@pytest.mark.parametrize(("order", "expected"), [
    (MMR, [(OrderRule.LIVE_VACCINE, UNREADABLE, "warning")]),
    (CARBAMAZEPINE, [(OrderRule.ASSOCIATED_DRUG, UNREADABLE, "warning")]),
    (SUPPOSITORY, [(OrderRule.RECTAL_ROUTE, UNREADABLE, "warning")]),
    (CARBOPLATIN, [(OrderRule.ANTINEOPLASTIC, STALE, "warning")]),  # (as with no ANC at all)
    (CLOZAPINE, [(OrderRule.CLOZAPINE, STALE, "warning")]),
    (draft("26225"), []),  # ondansetron: on no row
])
def test_r9_an_order_with_only_a_count_that_cannot_be_read(assess_record: AssessFn, knowledge: Knowledge,
                                                          order: dict[str, Any],
                                                          expected: list[tuple[OrderRule, OrderReason, str]]) -> None:
    assert _check(assess_record, knowledge, order, _unreadable()) == expected


@pytest.mark.parametrize("role_code", ["751-8", "6690-2", "770-8"])  # ANC, WBC, neutrophils %
@pytest.mark.parametrize(("order", "rule"), [(MMR, OrderRule.LIVE_VACCINE), (CARBAMAZEPINE, OrderRule.ASSOCIATED_DRUG),
                                             (SUPPOSITORY, OrderRule.RECTAL_ROUTE),
                                             (CARBOPLATIN, OrderRule.ANTINEOPLASTIC), (CLOZAPINE, OrderRule.CLOZAPINE)])
def test_r9_a_count_newer_than_a_normal_anc_that_cannot_be_read(assess_record: AssessFn, knowledge: Knowledge,
                                                                order: dict[str, Any], rule: OrderRule,
                                                                role_code: str) -> None:
    """ANC 2,500 three days ago (current), and yesterday's count that cannot be read: a warning, never a pass."""
    found = _check(assess_record, knowledge, order, anc(2500, when=ago(days=3)), _unreadable(role_code))
    assert found == [(rule, UNREADABLE, "warning")]


@pytest.mark.parametrize("order", [MMR, CARBAMAZEPINE, SUPPOSITORY, CARBOPLATIN, CLOZAPINE])
def test_r9_a_count_that_cannot_be_read_older_than_the_current_anc_changes_nothing(
        assess_record: AssessFn, knowledge: Knowledge, order: dict[str, Any]) -> None:
    """The controls: the unreadable count is older than today's normal ANC, or it is a temperature -- no card."""
    assert _check(assess_record, knowledge, order, anc(2500, when=ago(hours=2)), _unreadable(days=3)) == []
    assert _check(assess_record, knowledge, order, anc(2500, when=ago(days=3)),
                  observation("8310-5", 38.0, "furlongs", when=ago(hours=1))) == []


@pytest.mark.parametrize("status", ["completed", "Completed", " COMPLETED "])
def test_r9_a_dose_status_is_read_in_any_case(assess_record: AssessFn, knowledge: Knowledge, status: str) -> None:
    """Cyclophosphamide given 30 days ago, its administration "Completed" as a feed writes it: chemotherapy within
    90 days -- the MMR draft is critical, never let pass for the capital letter."""
    chemo = medication("MedicationAdministration", "3002", ago(days=30), status=status)
    found = _check(assess_record, knowledge, MMR, anc(2500), chemo)
    assert found == [(OrderRule.LIVE_VACCINE, OrderReason.RECENT_CHEMOTHERAPY, "critical")]


@pytest.mark.parametrize(("status", "checked"), [("draft", True), ("Cancelled", False), ("ENTERED-IN-ERROR", False)])
def test_r9_a_draft_status_is_read_in_any_case(assess_record: AssessFn, knowledge: Knowledge, status: str,
                                               checked: bool) -> None:
    found = _check(assess_record, knowledge, {**MMR, "status": status}, anc(420))
    assert found == ([(OrderRule.LIVE_VACCINE, OrderReason.ANC_BELOW_CRITICAL, "critical")] if checked else [])


@pytest.mark.parametrize("authored_on", ["28/07/2026", 20260728, {"date": "2026-07-28"}])
def test_r9_a_medication_date_read_as_none_is_logged(assess_record: AssessFn, knowledge: Knowledge,
                                                     authored_on: Any, caplog: pytest.LogCaptureFixture) -> None:
    """A date no rule can read is read as none -- and said in the log (no value, no PHI), whatever its JSON type."""
    chemo = medication("MedicationRequest", "194000", None, authoredOn=authored_on)
    with caplog.at_level("WARNING"):
        found = _check(assess_record, knowledge, MMR, anc(2500), chemo)
    assert found == [(OrderRule.LIVE_VACCINE, OrderReason.RECENT_CHEMOTHERAPY, "critical")]
    assert "a date of a drug is no FHIR time: read as none (undated)" in caplog.messages
