"""R9 "Drug identity" (and R8, which uses it): codes, Medication.ingredient, the product table, names -- each row of
R9 reached through each kind of evidence, at the ANC edges RULES.md gives."""

from __future__ import annotations

from typing import Any

import pytest

from cds_service.clinical.drugs import identify
from cds_service.clinical.model import Evidence, Finding, MedicationConcept, OrderReason, OrderRule
from cds_service.clinical.orders import check_orders
from cds_service.fhir.orders import read_draft_orders
from cds_service.knowledge import Knowledge
from tests.builders import CVX, PATIENT_ID, RXNORM, ago, anc, bundle, medication, observation
from tests.conftest import AssessFn

Found = list[tuple[OrderRule, OrderReason, str]]
CRITICAL_LIVE = [(OrderRule.LIVE_VACCINE, OrderReason.ANC_BELOW_CRITICAL, "critical")]


def named_draft(text: str | None, *codings: dict[str, str], id: str = "d1", **fields: Any) -> dict[str, Any]:
    """A draft MedicationRequest as real clients send it: product codings with or without displays, or text only."""
    concept: dict[str, Any] = {"coding": list(codings)} if codings else {}
    if text is not None:
        concept["text"] = text
    return {"resourceType": "MedicationRequest", "id": id, "status": "draft",
            "subject": {"reference": f"Patient/{PATIENT_ID}"}, "medicationCodeableConcept": concept, **fields}


def named_test(text: str) -> dict[str, Any]:
    """A draft ServiceRequest named only by its text, as a laboratory test is ordered."""
    return {"resourceType": "ServiceRequest", "id": "d1", "status": "draft", "intent": "order",
            "subject": {"reference": f"Patient/{PATIENT_ID}"}, "code": {"text": text}}


def rx(code: str, display: str | None = None) -> dict[str, str]:
    coding = {"system": RXNORM, "code": code}
    if display is not None:
        coding["display"] = display
    return coding


def _check(assess_record: AssessFn, knowledge: Knowledge, drafts: list[dict[str, Any]],
           *record: dict[str, Any]) -> tuple[Found, list[Evidence | None]]:
    orders = read_draft_orders({"draftOrders": bundle(*drafts)}, selected_only=False)[0]
    risks = check_orders(orders, assess_record(*record), knowledge)
    return [(f.rule, f.reason, f.indicator) for r in risks for f in r.findings], [r.recognised_by for r in risks]


CLOZAPINE_CRITICAL = [(OrderRule.CLOZAPINE, OrderReason.ANC_BELOW_CRITICAL, "critical"),
                      (OrderRule.ASSOCIATED_DRUG, OrderReason.ANC_BELOW_CRITICAL, "critical")]
CLOZAPINE_WARNING_ONLY = [(OrderRule.CLOZAPINE, OrderReason.ANC_BELOW_WARNING, "warning")]


# -- evidence 3: products ordered by code alone (no display), as EHRs and the Sandbox order them ---------------------
@pytest.mark.parametrize(("code", "value", "expected"), [
    ("104776", 499, CLOZAPINE_CRITICAL),  # Clozapine 100 MG Oral Tablet [Clozaril] (SBD)
    ("104776", 400, CLOZAPINE_CRITICAL),
    ("104776", 1499, CLOZAPINE_WARNING_ONLY),  # below the start threshold of 1500
    ("104776", 1500, []),
    ("197536", 1000, CLOZAPINE_WARNING_ONLY),  # Clozapine 25 MG Oral Tablet (SCD)
    ("721775", 499, CLOZAPINE_CRITICAL),  # Clozapine 12.5 MG Disintegrating Oral Tablet [Fazaclo]
    ("197550", 1200, [(OrderRule.ANTINEOPLASTIC, OrderReason.ANC_BELOW_WARNING, "warning")]),  # cyclophosphamide
    ("197550", 1500, []),
    ("197550", 499, [(OrderRule.ANTINEOPLASTIC, OrderReason.ANC_BELOW_CRITICAL, "critical")]),
    ("597195", 1499, [(OrderRule.ANTINEOPLASTIC, OrderReason.ANC_BELOW_WARNING, "warning")]),  # carboplatin inj.
    ("311347", 800, [(OrderRule.ASSOCIATED_DRUG, OrderReason.ANC_BELOW_WARNING, "warning")]),  # linezolid 600 MG
    ("311347", 1000, []),
    ("311347", 499, [(OrderRule.ASSOCIATED_DRUG, OrderReason.ANC_BELOW_CRITICAL, "critical")]),
    ("762602", 499, CRITICAL_LIVE),  # Typhoid Vaccine Live Ty21a ... [Vivotif] -> CVX 25
    ("762602", 500, [(OrderRule.LIVE_VACCINE, OrderReason.ANC_BELOW_WARNING, "warning")]),
    ("762602", 1500, []),
    ("1099936", 499, CRITICAL_LIVE),  # Adenovirus Type 4 Vaccine Live ... -> CVX 143
    ("198335", 999, [(OrderRule.ASSOCIATED_DRUG, OrderReason.ANC_BELOW_WARNING, "warning")]),  # TMP-SMX DS
    ("389242", 999, [(OrderRule.ASSOCIATED_DRUG, OrderReason.ANC_BELOW_WARNING, "warning")]),  # deferiprone 500 MG
    # the chemotherapy products Synthea's cancer modules write into generated records, code alone
    ("1736854", 499, [(OrderRule.ANTINEOPLASTIC, OrderReason.ANC_BELOW_CRITICAL, "critical")]),  # cisplatin 50 MG
    ("1734340", 1499, [(OrderRule.ANTINEOPLASTIC, OrderReason.ANC_BELOW_WARNING, "warning")]),  # etoposide 100 MG
    ("1736776", 1500, []),  # oxaliplatin 5 MG/ML
    ("1736776", 500, [(OrderRule.ANTINEOPLASTIC, OrderReason.ANC_BELOW_WARNING, "warning")]),
    ("1601380", 499, [(OrderRule.ANTINEOPLASTIC, OrderReason.ANC_BELOW_CRITICAL, "critical")]),  # palbociclib
    ("1873983", 1000, [(OrderRule.ANTINEOPLASTIC, OrderReason.ANC_BELOW_WARNING, "warning")]),  # ribociclib
])
def test_r9_products_by_code_alone(assess_record: AssessFn, knowledge: Knowledge, code: str, value: int,
                                   expected: Found) -> None:
    found, how = _check(assess_record, knowledge, [named_draft(None, rx(code))], anc(value))
    assert found == expected
    assert how == ([Evidence.PRODUCT] if expected else [])


def test_every_product_of_the_table_names_what_it_maps_to(knowledge: Knowledge) -> None:
    """The table's own names agree with its mapping: each SCD/SBD names its ingredient or a brand of it, each
    vaccine says 'live' -- so a code typed wrong in products.toml cannot pass unnoticed."""
    context = knowledge.context
    for code, product in context.products.items():
        by_name = identify(MedicationConcept(names=(product.name,)), context)
        if product.cvx is not None:
            assert by_name.live_vaccine_by is Evidence.NAME, code
        else:
            assert {key for key, _ in by_name.ingredients} >= set(product.ingredients), code


# -- evidence 4: names (displays and text), whole words, any case ----------------------------------------------------
@pytest.mark.parametrize(("concept", "expected"), [
    (named_draft("CLOZAPINE 100 MG PO TABS", {"system": "urn:oid:1.2.3", "code": "55"}), CLOZAPINE_CRITICAL),
    (named_draft(None, rx("999999901", "Clozaril 25 MG Oral Tablet")), CLOZAPINE_CRITICAL),  # unknown code, brand
    (named_draft("Versacloz 50 MG/ML Oral Suspension"), CLOZAPINE_CRITICAL),
    (named_draft("carboplatin 10 MG/ML Injectable Solution"),
     [(OrderRule.ANTINEOPLASTIC, OrderReason.ANC_BELOW_CRITICAL, "critical")]),
    (named_draft("vancomycin 1000 MG Injection"),
     [(OrderRule.ASSOCIATED_DRUG, OrderReason.ANC_BELOW_CRITICAL, "critical")]),
    (named_draft("Typhoid Vaccine Live Ty21a 6800000000 UNT Delayed Release Oral Capsule [Vivotif]"), CRITICAL_LIVE),
    (named_draft("Ebola Zaire vaccine, live, recombinant"), CRITICAL_LIVE),  # "live" wins over "recombinant"
    (named_draft("FluMist Quadrivalent nasal spray"), CRITICAL_LIVE),  # a live brand whose name does not say so
    (named_draft("Rotarix oral suspension"), CRITICAL_LIVE),
    (named_draft("MMR VACCINE SUBQ", {"system": "urn:oid:1.2.3", "code": "7"}), CRITICAL_LIVE),  # an abbreviation
    (named_draft("MMRV vaccine"), CRITICAL_LIVE),
    (named_draft("Influenza vaccine LAIV4 intranasal"), CRITICAL_LIVE),
    (named_draft("OPV"), CRITICAL_LIVE),
    # a generic name every licensed vaccine of which is live, as a local order names it
    (named_draft("YELLOW FEVER VACCINE INJ", {"system": "urn:oid:1.2.3", "code": "8"}), CRITICAL_LIVE),
    (named_draft("Varicella Virus Vaccine SUBQ"), CRITICAL_LIVE),
    (named_draft("ROTAVIRUS VACCINE ORAL SUSP"), CRITICAL_LIVE),
    (named_draft("measles, mumps and rubella virus vaccine"), CRITICAL_LIVE),
    (named_draft("yellow fever vaccine, inactivated"), []),  # what R9 calls not live, said of it
    (named_draft("Varicella-Zoster Vaccine Recombinant, Adjuvanted"), []),  # Shingrix, as a local order names it
    (named_draft("varicella zoster immune globulin"), []),  # no vaccine
    (named_draft("typhoid vaccine"), []),  # oral (live) or injected (not): the name does not say which
    (named_draft("Influenza vaccine"), []),
    # a laboratory test of immunity named with a live vaccine's abbreviation or generic name (a ServiceRequest)
    (named_test("MMR IgG antibodies"), []),
    (named_test("MEASLES MUMPS RUBELLA (MMR) IMMUNITY PROFILE"), []),
    (named_draft("Varicella vaccine titer"), []),
    # an order about live vaccines, not one of a vaccine: teaching, counselling, a screening form (they were critical
    # "live vaccine" cards suggesting the order be removed)
    (named_test("Counsel patient: no live vaccines during chemotherapy"), []),
    (named_test("Education - avoid live vaccines"), []),
    (named_test("Live vaccine screening questionnaire"), []),
    (named_draft("Patient teaching: live vaccine precautions"), []),
    (named_draft("MMR vaccine declined by parent"), []),
    (named_test("Do not give live vaccines"), []),
    (named_draft("MMR vaccine lot no. X123 SUBQ"), CRITICAL_LIVE),  # "no." of a lot: still the vaccine
    (named_draft("hepatitis B vaccine recombinant"), []),
    (named_draft("Smallpox and Monkeypox Vaccine, Live, Non-replicating"), []),  # JYNNEOS is not live
    (named_draft("Zoster Vaccine Recombinant, Adjuvanted"), []),
    (named_draft("influenza virus vaccine, inactivated"), []),
    (named_draft("Clozapinex 5 MG Oral Tablet"), []),  # not the whole word
    # the drug's other names and the abbreviations order catalogues write for it, each naming it alone
    (named_draft("co-trimoxazole 960 mg tablet"), [(OrderRule.ASSOCIATED_DRUG, OrderReason.ANC_BELOW_CRITICAL,
                                                    "critical")]),
    (named_draft("SMX-TMP DS TABS", {"system": "urn:oid:1.2.3", "code": "9"}),
     [(OrderRule.ASSOCIATED_DRUG, OrderReason.ANC_BELOW_CRITICAL, "critical")]),
    (named_draft("TMP/SMX 160/800 tablet"), [(OrderRule.ASSOCIATED_DRUG, OrderReason.ANC_BELOW_CRITICAL, "critical")]),
    (named_draft("PTU 50 MG PO TABS"), [(OrderRule.ASSOCIATED_DRUG, OrderReason.ANC_BELOW_CRITICAL, "critical")]),
    (named_draft("6-MP 50 mg tablet"), [(OrderRule.ANTINEOPLASTIC, OrderReason.ANC_BELOW_CRITICAL, "critical"),
                                        (OrderRule.ASSOCIATED_DRUG, OrderReason.ANC_BELOW_CRITICAL, "critical")]),
    (named_draft("5-FU 500 mg/10 mL IV", {"system": "urn:oid:1.2.3", "code": "10"}),
     [(OrderRule.ANTINEOPLASTIC, OrderReason.ANC_BELOW_CRITICAL, "critical")]),
    (named_draft("Ara-C 100 mg IV"), [(OrderRule.ANTINEOPLASTIC, OrderReason.ANC_BELOW_CRITICAL, "critical")]),
    (named_draft("VP-16 100 mg"), [(OrderRule.ANTINEOPLASTIC, OrderReason.ANC_BELOW_CRITICAL, "critical")]),
    (named_draft("trimethoprim 100 MG Oral Tablet"), []),  # trimethoprim alone is not the combination
    (named_draft("MTX 2.5 mg tablet"), []),  # methotrexate or mitoxantrone: an abbreviation left out
    (named_draft("ondansetron 4 MG Oral Tablet"), []),
])
def test_r9_names(assess_record: AssessFn, knowledge: Knowledge, concept: dict[str, Any], expected: Found) -> None:
    found, how = _check(assess_record, knowledge, [concept], anc(400))
    assert found == expected
    assert how == ([Evidence.NAME] if expected else [])


def test_r9_explicit_lists_win_over_names(assess_record: AssessFn, knowledge: Knowledge) -> None:
    """CVX 187 (recombinant zoster) is on the not-live list: a name saying 'live' does not make it one."""
    order = named_draft("zoster vaccine live (mislabelled)", {"system": CVX, "code": "187"})
    assert _check(assess_record, knowledge, [order], anc(400)) == ([], [])


def test_r9_a_code_that_identifies_the_drug_is_not_second_guessed_by_its_name(
        assess_record: AssessFn, knowledge: Knowledge) -> None:
    order = named_draft(None, rx("104776", "some other display"))
    assert _check(assess_record, knowledge, [order], anc(400)) == (CLOZAPINE_CRITICAL, [Evidence.PRODUCT])


# -- evidence 2: Medication.ingredient, referenced in the Bundle or contained ----------------------------------------
def test_r9_medication_ingredient_in_the_bundle(assess_record: AssessFn, knowledge: Knowledge) -> None:
    medication_resource = {"resourceType": "Medication", "id": "compounded",
                           "code": {"text": "Compounded oral suspension"},
                           "ingredient": [{"itemCodeableConcept": {"coding": [rx("2626")]}}]}
    order = {**named_draft(None), "medicationReference": {"reference": "Medication/compounded"}}
    del order["medicationCodeableConcept"]
    assert _check(assess_record, knowledge, [order, medication_resource], anc(400)) == (
        CLOZAPINE_CRITICAL, [Evidence.INGREDIENT])


def test_r9_contained_medication_by_product_code(assess_record: AssessFn, knowledge: Knowledge) -> None:
    order = {**named_draft(None), "medicationReference": {"reference": "#med"},
             "contained": [{"resourceType": "Medication", "id": "med", "code": {"coding": [rx("197550")]}}]}
    del order["medicationCodeableConcept"]
    assert _check(assess_record, knowledge, [order], anc(1200)) == (
        [(OrderRule.ANTINEOPLASTIC, OrderReason.ANC_BELOW_WARNING, "warning")], [Evidence.PRODUCT])


# -- the neutropenia-associated drug row: topical, ophthalmic and otic products do not count --------------------------
@pytest.mark.parametrize(("order", "flagged"), [
    (named_draft("Dapsone 50 MG/ML Topical Gel"), False),
    (named_draft("ganciclovir 1.5 MG/ML Ophthalmic Gel [Zirgan]"), False),
    (named_draft("chloramphenicol 5 MG/ML Otic Solution"), False),
    (named_draft("Dapsone 100 MG Oral Tablet"), True),
    (named_draft(None, rx("3108"), dosageInstruction=[{"route": {"coding": [
        {"system": "http://snomed.info/sct", "code": "6064005"}]}}]), False),  # topical route
    (named_draft(None, rx("3108"), dosageInstruction=[{"route": {"coding": [
        {"system": "http://snomed.info/sct", "code": "26643006"}]}}]), True),  # oral route
    (named_draft(None, rx("3108"), dosageInstruction=[{"route": {"coding": [
        {"system": "urn:oid:1.2.840.114350.1.13.0.1.7.4.698288.330", "code": "18", "display": "Topical"}],
        "text": "Topical"}}]), False),  # the route named under an EHR's own code
    (named_draft(None, rx("3108"), dosageInstruction=[{"route": {"text": "Oral"}}]), True),
])
def test_r9_non_systemic_products_are_not_associated_drug_orders(
        assess_record: AssessFn, knowledge: Knowledge, order: dict[str, Any], flagged: bool) -> None:
    found, _ = _check(assess_record, knowledge, [order], anc(400))
    assert found == ([(OrderRule.ASSOCIATED_DRUG, OrderReason.ANC_BELOW_CRITICAL, "critical")] if flagged else [])


# -- what R9 does not check ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("status", ["entered-in-error", "cancelled", "revoked", "completed"])
def test_r9_drafts_of_these_statuses_are_not_checked(assess_record: AssessFn, knowledge: Knowledge,
                                                     status: str) -> None:
    order = {**named_draft(None, rx("104776")), "status": status}
    assert _check(assess_record, knowledge, [order], anc(400)) == ([], [])
    assert _check(assess_record, knowledge, [{**order, "status": "draft"}], anc(400)) == (
        CLOZAPINE_CRITICAL, [Evidence.PRODUCT])  # the same draft, as a draft: checked


def test_r9_a_draft_with_no_medication_is_nothing_to_check(assess_record: AssessFn, knowledge: Knowledge) -> None:
    sandbox_before_a_drug_is_chosen = {"resourceType": "MedicationRequest", "id": "request-123", "status": "draft",
                                       "subject": {"reference": f"Patient/{PATIENT_ID}"}, "authoredOn": "2026-12-01"}
    assert read_draft_orders({"draftOrders": bundle(sandbox_before_a_drug_is_chosen)}, selected_only=False) == ([], [])


# -- R8 uses the same identity: chemotherapy products and names in the record ----------------------------------------
@pytest.mark.parametrize(("concept", "agent"), [
    ({"coding": [rx("597195")]}, "carboplatin"),  # carboplatin 10 MG/ML Injectable Solution, code alone
    ({"text": "CARBOPLATIN 450 MG IN NS 250 ML IVPB"}, "carboplatin"),  # a local order name
    ({"coding": [rx("1736854")]}, "cisplatin"),  # Cisplatin 50 MG Injection, as a Synthea record carries it
])
def test_r7_r8_febrile_after_a_chemotherapy_product(assess_record: AssessFn, concept: dict[str, Any],
                                                     agent: str) -> None:
    """Fever 8 days after a platinum with an ANC of 800: febrile neutropenia (R7 chemotherapy proxy, ANC < 1000)."""
    given = medication("MedicationAdministration", "x", ago(days=8))
    given["medicationCodeableConcept"] = concept
    fever = observation("8310-5", 38.4, "Cel", when=ago(hours=1))
    assessment = assess_record(anc(800), fever, given)
    assert assessment.finding is Finding.FEBRILE_NEUTROPENIA
    assert assessment.context is not None and assessment.context.chemotherapy is not None
    assert assessment.context.chemotherapy.agent == agent
    assert assessment.context.chemotherapy.recognised_by is (Evidence.NAME if "text" in concept else Evidence.PRODUCT)


def test_r8_clozapine_product_in_the_record_is_active_clozapine(assess_record: AssessFn) -> None:
    assessment = assess_record(anc(800), medication("MedicationRequest", "104776", ago(days=30)))
    assert assessment.context is not None and assessment.context.clozapine_active
    assert "clozapine" in assessment.context.causes


@pytest.mark.parametrize(("code", "recognised"), [("40048", True), (40048, True), (True, False), (40048.0, False)])
def test_r9_a_code_sent_as_a_json_integer_is_read_as_its_digits(assess_record: AssessFn, knowledge: Knowledge,
                                                               code: Any, recognised: bool) -> None:
    """Carboplatin's RxNorm code as a generator writes it, a number (FHIR: a string): the same code -- critical at
    ANC 400, in a draft and as the dose of a febrile neutropenia. A boolean or a decimal is no code."""
    drafted = {"resourceType": "MedicationRequest", "id": "carbo", "status": "draft", "intent": "order",
               "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": code}]}}
    found, _ = _check(assess_record, knowledge, [drafted], anc(400))
    assert found == ([(OrderRule.ANTINEOPLASTIC, OrderReason.ANC_BELOW_CRITICAL, "critical")] if recognised else [])
    given = medication("MedicationAdministration", "40048", ago(days=5))
    given["medicationCodeableConcept"]["coding"][0]["code"] = code
    fever = observation("8310-5", 38.6, "Cel", when=ago(hours=1))
    result = assess_record(anc(800), fever, given)
    assert (result.finding is Finding.FEBRILE_NEUTROPENIA) is recognised
