"""R8: chemotherapy recognition, Duffy-null in each documented form (never from race), clozapine bands, causes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from cds_service.clinical.assessment import assess
from cds_service.clinical.context import clinical_context, clozapine_action
from cds_service.clinical.model import ClinicalContext, ClozapineAction, DataKind, DuffyStatus, Finding
from cds_service.fhir.records import build_record
from cds_service.knowledge import Knowledge, parse_system_codes
from tests.builders import (
    LOINC,
    NOW,
    PATIENT_ID,
    RXNORM,
    ago,
    anc,
    condition,
    medication,
    observation,
    patient,
    temperature,
)
from tests.conftest import AssessFn

ATC = "http://www.whocc.no/atc"
SNOMED = "http://snomed.info/sct"


@pytest.mark.parametrize(("resource", "agent"), [
    (medication("MedicationAdministration", "40048", ago(days=9)), "carboplatin"),
    (medication("MedicationRequest", "3002", ago(days=9)), "cyclophosphamide"),
    (medication("MedicationStatement", "4492", ago(days=9)), "fluorouracil"),
    (medication("MedicationAdministration", "105585", ago(days=9)), "methotrexate"),  # product -> ingredient
    (medication("MedicationAdministration", "L01XA02", ago(days=9), system=ATC), "ATC L01XA02"),
    (medication("MedicationRequest", "3002", "2026-01-01",
                dosageInstruction=[{"timing": {"repeat": {"boundsPeriod": {"start": ago(days=9)}}}}]),
     "cyclophosphamide"),  # started: the dosage's bounds, not the order date
    ({"resourceType": "Procedure", "id": "p1", "status": "completed", "subject": {"reference": "Patient/pat-1"},
      "code": {"coding": [{"system": SNOMED, "code": "367336001"}]}, "performedDateTime": ago(days=9)},
     "chemotherapy procedure"),
])
def test_r8_chemotherapy_sources(assess_record: AssessFn, resource: dict[str, Any], agent: str) -> None:
    result = assess_record(anc(700), resource)
    assert result.context is not None and result.context.chemotherapy is not None
    assert result.context.chemotherapy.agent == agent
    assert result.context.chemotherapy.days_before == 9 and result.context.chemotherapy.in_window


@pytest.mark.parametrize("reference", [
    "Medication/gem", "Medication/gem/_history/3", "https://ehr.example.org/fhir/Medication/gem",
    "https://ehr.example.org/fhir/Medication/gem/_history/3",
])
def test_r8_medication_named_by_reference(assess_record: AssessFn, reference: str) -> None:
    # FHIR references: relative or absolute, with or without a version
    contained = medication("MedicationAdministration", "x", ago(days=5))
    del contained["medicationCodeableConcept"]
    contained["contained"] = [{"resourceType": "Medication", "id": "m",
                               "code": {"coding": [{"system": RXNORM, "code": "2555"}]}}]
    contained["medicationReference"] = {"reference": "#m"}
    bundled = medication("MedicationAdministration", "x", ago(days=4))
    del bundled["medicationCodeableConcept"]
    bundled["medicationReference"] = {"reference": reference}
    gem = {"resourceType": "Medication", "id": "gem", "code": {"coding": [{"system": RXNORM, "code": "12574"}]}}
    for resources, agent in (([contained], "cisplatin"), ([bundled, gem], "gemcitabine")):
        result = assess_record(anc(700), *resources)
        assert result.context is not None and result.context.chemotherapy is not None
        assert result.context.chemotherapy.agent == agent


@pytest.mark.parametrize("resource", [
    medication("MedicationAdministration", "40048", ago(days=9), status="not-done"),
    medication("MedicationAdministration", "40048", ago(days=9), status="entered-in-error"),
    medication("MedicationRequest", "40048", ago(days=9), status="cancelled"),
    medication("MedicationStatement", "40048", ago(days=9), status="intended"),
    medication("MedicationAdministration", "40048", ago(days=-2)),  # planned, not yet given
    medication("MedicationAdministration", "2002", ago(days=9)),  # carbamazepine: not antineoplastic
    medication("MedicationAdministration", "40048", ago(days=9), system="http://example.org/local"),
])
def test_r8_not_chemotherapy(assess_record: AssessFn, resource: dict[str, Any]) -> None:
    result = assess_record(anc(700), resource)
    assert result.context is not None and result.context.chemotherapy is None


def _named(text: str) -> dict[str, Any]:
    """A MedicationStatement, still taken (active), dated 9 days ago, naming its drug only by text (a local code)."""
    resource = medication("MedicationStatement", "55", ago(days=9), system="urn:oid:1.2.840.114350.1.13.0",
                          status="active")
    resource["medicationCodeableConcept"]["text"] = text
    return resource


@pytest.mark.parametrize(("text", "agent"), [
    ("IBRANCE 125 MG PO CAPS", "palbociclib"),  # a brand in an EHR's local name
    ("palbociclib 125 MG Oral Capsule", "palbociclib"),
    ("hydroxyurea 500 MG Oral Capsule", "hydroxyurea"),
    ("LONSURF 15-6.14 MG PO TABS", "tipiracil"),
    ("sacituzumab govitecan-hziy 180 MG Injection", "sacituzumab govitecan"),
    ("Azacitidine 100 MG Injection", "azacitidine"),
])
def test_r8_myelosuppressive_antineoplastics_listed_by_name(assess_record: AssessFn, text: str, agent: str) -> None:
    """(each was no chemotherapy at all: the list held only CPIC's pharmacogenomic drugs)"""
    result = assess_record(anc(700), _named(text))
    assert result.context is not None and result.context.chemotherapy is not None
    assert result.context.chemotherapy.agent == agent and result.context.chemotherapy.recognised_by == "name"


@pytest.mark.parametrize("text", ["trifluridine 10 MG/ML Ophthalmic Solution", "trastuzumab 440 MG Injection",
                                  "pembrolizumab 100 MG/4ML Injection"])
def test_r8_not_listed_by_name(assess_record: AssessFn, text: str) -> None:
    """Trifluridine eye drops (only tipiracil names Lonsurf); trastuzumab alone and checkpoint inhibitors are not
    myelosuppressive chemotherapy."""
    result = assess_record(anc(700), _named(text))
    assert result.context is not None and result.context.chemotherapy is None


def _genotype(*components: tuple[str, str], value: str = "LA9633-4") -> dict[str, Any]:
    return {
        "resourceType": "Observation", "id": "g1", "status": "final", "subject": {"reference": "Patient/pat-1"},
        "code": {"coding": [{"system": LOINC, "code": "69548-6"}]},
        "valueCodeableConcept": {"coding": [{"system": LOINC, "code": value}]},
        "component": [{"code": {"coding": [{"system": LOINC, "code": c}]},
                       "valueCodeableConcept": {"coding": [{"system": "http://example.org/ids", "code": v}]}}
                      for c, v in components],
    }


GENE = ("48018-6", "HGNC:4035")
SNP = ("81255-2", "rs2814778")
HOMOZYGOUS = ("53034-5", "LA6705-3")
HETEROZYGOUS = ("53034-5", "LA6706-1")


def _antigen(code: str, value: str = "LA6577-6", specimen: str = "Specimen/s1") -> dict[str, Any]:
    return {"resourceType": "Observation", "id": f"fy-{code}-{specimen[-1]}", "status": "final",
            "subject": {"reference": "Patient/pat-1"}, "code": {"coding": [{"system": LOINC, "code": code}]},
            "valueCodeableConcept": {"coding": [{"system": LOINC, "code": value}]},
            "specimen": {"reference": specimen}}


@pytest.mark.parametrize(("resources", "status"), [
    ([_genotype(GENE, HOMOZYGOUS)], DuffyStatus.GENOTYPE),
    ([_genotype(SNP, HOMOZYGOUS)], DuffyStatus.GENOTYPE),
    ([_genotype(GENE, SNP, HOMOZYGOUS)], DuffyStatus.GENOTYPE),
    ([_genotype(GENE, HETEROZYGOUS)], DuffyStatus.UNKNOWN),
    ([_genotype(GENE)], DuffyStatus.UNKNOWN),
    ([_genotype(GENE, HOMOZYGOUS, value="LA9634-2")], DuffyStatus.UNKNOWN),  # variant absent
    ([_antigen("1027-2"), _antigen("1033-0")], DuffyStatus.RED_CELL_ANTIGENS),
    ([_antigen("1027-2"), _antigen("1033-0", specimen="Specimen/s2")], DuffyStatus.UNKNOWN),
    ([_antigen("1027-2")], DuffyStatus.UNKNOWN),
    ([_antigen("1027-2"), _antigen("1033-0", value="LA9633-4")], DuffyStatus.UNKNOWN),
    ([], DuffyStatus.UNKNOWN),
])
def test_r8_duffy_documented_forms(assess_record: AssessFn, resources: list[dict[str, Any]],
                                   status: DuffyStatus) -> None:
    result = assess_record(anc(1300), *resources)
    assert result.context is not None and result.context.duffy is status
    expected = Finding.DUFFY_NULL_RANGE if status is not DuffyStatus.UNKNOWN else Finding.NEUTROPENIA
    assert result.finding is expected


def test_r8_duffy_site_value_set(knowledge: Knowledge) -> None:
    site = knowledge.configured(7, 90, (("http://example.org/site-codes", "DUFFY-NULL"),))
    marked = condition("DUFFY-NULL", system="http://example.org/site-codes")
    record = build_record(PATIENT_ID, patient(), [anc(1300), marked], site)
    result = assess(record, NOW, site)
    assert result.context is not None and result.context.duffy is DuffyStatus.SITE_CODE
    assert result.finding is Finding.DUFFY_NULL_RANGE
    unconfigured = assess(build_record(PATIENT_ID, patient(), [anc(1300), marked], knowledge), NOW, knowledge)
    assert unconfigured.finding is Finding.NEUTROPENIA


@pytest.mark.parametrize(("configured", "sent"), [
    ("urn:oid:2.16.840.1.113883.6.96|DUFFY-NULL-1", "http://snomed.info/sct"),  # SNOMED CT's OID, configured
    ("http://snomed.info/sct|DUFFY-NULL-1", "urn:oid:2.16.840.1.113883.6.96"),  # ... or sent
])
def test_r8_a_site_code_matches_whichever_name_of_its_system_is_used(knowledge: Knowledge, configured: str,
                                                                     sent: str) -> None:
    """R8(c): a code system named by its OID on one side and by its URL on the other is one system."""
    site = knowledge.configured(7, 90, parse_system_codes([configured]))
    record = build_record(PATIENT_ID, patient(), [anc(1300), condition("DUFFY-NULL-1", system=sent)], site)
    assert assess(record, NOW, site).finding is Finding.DUFFY_NULL_RANGE


def test_r8_race_is_never_used(assess_record: AssessFn) -> None:
    person = patient()
    person["extension"] = [{"url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race", "extension": [
        {"url": "ombCategory", "valueCoding": {"system": "urn:oid:2.16.840.1.113883.6.238", "code": "2054-5"}}]}]
    result = assess_record(anc(1300), patient_resource=person)
    assert result.context is not None and result.context.duffy is DuffyStatus.UNKNOWN
    assert result.finding is Finding.NEUTROPENIA
    assert result.suggest_duffy_phenotyping


@pytest.mark.parametrize(("value", "finding"), [
    (1500, None), (1499, Finding.DUFFY_NULL_RANGE), (1000, Finding.DUFFY_NULL_RANGE),
    (999, Finding.NEUTROPENIA), (499, Finding.NEUTROPENIA),  # < 1000 and < 500 unchanged
])
def test_r8_duffy_range_edges(assess_record: AssessFn, value: int, finding: Finding | None) -> None:
    result = assess_record(anc(value), _genotype(GENE, HOMOZYGOUS))
    assert result.finding is finding


# The Duffy-null range is 1000 to below 1500: an upper bound (a WBC with no differential: at most the WBC, R4; a
# laboratory's "<1200") is never in it for certain -- the count may be 300. Nor does it ask for Duffy phenotyping: it
# asks for a differential.
@pytest.mark.parametrize("bound", [
    observation("6690-2", 1.2, "10*3/uL", when=ago(hours=3)),  # was "consistent with documented Duffy-null status"
    anc(1200, comparator="<"),
    anc(1499, comparator="<="),
])
def test_r8_an_upper_bound_is_never_in_the_duffy_null_range(assess_record: AssessFn, bound: dict[str, Any]) -> None:
    documented = assess_record(bound, _genotype(GENE, HOMOZYGOUS))
    assert documented.context is not None and documented.context.duffy is DuffyStatus.GENOTYPE
    assert documented.finding is Finding.NEUTROPENIA
    assert not assess_record(bound).suggest_duffy_phenotyping


@pytest.mark.parametrize(("extra", "suggest"), [
    ([], True),
    ([medication("MedicationAdministration", "3002", ago(days=40))], False),  # chemotherapy in the record
    ([observation("8310-5", "38.5", "Cel", when=ago(hours=1))], False),  # fever
])
def test_r8_duffy_phenotyping_suggestion(assess_record: AssessFn, extra: list[dict[str, Any]], suggest: bool) -> None:
    assert assess_record(anc(1200), *extra).suggest_duffy_phenotyping is suggest


# Clozapine label tables (R8): general population and documented Duffy-null (BEN).
@pytest.mark.parametrize(("value", "duffy", "action"), [
    (1500, DuffyStatus.UNKNOWN, ClozapineAction.CONTINUE),
    (1499, DuffyStatus.UNKNOWN, ClozapineAction.CONTINUE_THREE_TIMES_WEEKLY),
    (1000, DuffyStatus.UNKNOWN, ClozapineAction.CONTINUE_THREE_TIMES_WEEKLY),
    (999, DuffyStatus.UNKNOWN, ClozapineAction.INTERRUPT_CONSULT_DAILY),
    (500, DuffyStatus.UNKNOWN, ClozapineAction.INTERRUPT_CONSULT_DAILY),
    (499, DuffyStatus.UNKNOWN, ClozapineAction.INTERRUPT_NO_RECHALLENGE),
    (1000, DuffyStatus.GENOTYPE, ClozapineAction.CONTINUE),
    (999, DuffyStatus.RED_CELL_ANTIGENS, ClozapineAction.CONSULT_CONTINUE_THREE_TIMES_WEEKLY),
    (500, DuffyStatus.SITE_CODE, ClozapineAction.CONSULT_CONTINUE_THREE_TIMES_WEEKLY),
    (499, DuffyStatus.GENOTYPE, ClozapineAction.INTERRUPT),
])
def test_r8_clozapine_tables(knowledge: Knowledge, value: int, duffy: DuffyStatus, action: ClozapineAction) -> None:
    assert clozapine_action(Decimal(value), None, duffy, knowledge) is action


# An ANC known only as an upper bound (a WBC with no differential: at most the WBC, R4) chooses a row of the label's
# table only when it is below the last row's limit; else the count, and so the row, may be lower: measure it first.
@pytest.mark.parametrize(("value", "comparator", "duffy", "action"), [
    (1200, "<=", DuffyStatus.UNKNOWN, ClozapineAction.MEASURE_ANC),  # was "continue, three times weekly"
    (999, "<=", DuffyStatus.UNKNOWN, ClozapineAction.MEASURE_ANC),
    (500, "<=", DuffyStatus.UNKNOWN, ClozapineAction.MEASURE_ANC),  # may be 500: the 500-999 row
    (500, "<", DuffyStatus.UNKNOWN, ClozapineAction.INTERRUPT_NO_RECHALLENGE),  # below 500 for certain
    (499, "<=", DuffyStatus.UNKNOWN, ClozapineAction.INTERRUPT_NO_RECHALLENGE),
    (1200, "<=", DuffyStatus.GENOTYPE, ClozapineAction.MEASURE_ANC),  # was "continue"
    (499, "<=", DuffyStatus.GENOTYPE, ClozapineAction.INTERRUPT),
])
def test_r8_clozapine_table_of_an_upper_bound(knowledge: Knowledge, value: int, comparator: str, duffy: DuffyStatus,
                                              action: ClozapineAction) -> None:
    assert clozapine_action(Decimal(value), comparator, duffy, knowledge) is action


def test_r8_clozapine_with_a_wbc_and_no_differential(assess_record: AssessFn) -> None:
    wbc = observation("6690-2", 1.2, "10*3/uL", when=ago(hours=3))
    result = assess_record(wbc, medication("MedicationRequest", "2626", "2026-01-01"))
    assert result.current is not None and result.current.anc.comparator == "<="
    assert result.clozapine_action is ClozapineAction.MEASURE_ANC


@pytest.mark.parametrize(("value", "action", "finding"), [
    (999, ClozapineAction.INTERRUPT_CONSULT_DAILY, Finding.NEUTROPENIA),
    (2000, ClozapineAction.CONTINUE, None),  # normal: no card at all
])
def test_r8_clozapine_action_in_the_assessment(assess_record: AssessFn, value: int, action: ClozapineAction,
                                              finding: Finding | None) -> None:
    result = assess_record(anc(value), medication("MedicationRequest", "2626", "2026-01-01"))
    assert result.context is not None and result.context.clozapine_active
    assert result.clozapine_action is action
    assert result.finding is finding


def test_r8_stopped_clozapine_is_not_active(assess_record: AssessFn) -> None:
    result = assess_record(anc(999), medication("MedicationRequest", "2626", "2026-01-01", status="stopped"))
    assert result.context is not None and not result.context.clozapine_active
    assert result.clozapine_action is None


@pytest.mark.parametrize(("resources", "causes"), [
    ([medication("MedicationRequest", "2002", "2026-01-01")], ("carbamazepine",)),
    ([medication("MedicationRequest", "198335", "2026-01-01")], ("sulfamethoxazole / trimethoprim",)),
    ([medication("MedicationRequest", "2002", "2026-01-01", status="completed")], ()),
    # a drug the patient takes, recorded as a statement (home medication): as active as an order
    ([medication("MedicationStatement", "2020", "2026-01-01", status="active")], ("carbimazole",)),
    ([medication("MedicationStatement", "2020", "2026-01-01", status="completed")], ()),
    ([medication("MedicationAdministration", "2020", "2026-01-01")], ()),  # a dose given is not a drug taken now
    ([condition("C92.00")], ("leukemia",)),
    ([condition("M32.14")], ("lupus",)),
    ([condition("69896004", system=SNOMED)], ("rheumatoid arthritis",)),
    ([condition("C92.00", clinical="resolved")], ()),
    ([condition("C92.00", verification="refuted")], ()),
    ([condition("C92.00"), medication("MedicationRequest", "6851", "2026-01-01")], ("methotrexate", "leukemia")),
    # statuses as feeds write them: the same statuses, in any case, without spaces around them
    ([medication("MedicationRequest", "2002", "2026-01-01", status="Active")], ("carbamazepine",)),
    ([medication("MedicationStatement", "2020", "2026-01-01", status=" ACTIVE ")], ("carbimazole",)),
    ([medication("MedicationRequest", "2002", "2026-01-01", status="Completed")], ()),
    ([condition("C92.00", clinical="Active")], ("leukemia",)),
    ([condition("C92.00", verification="Refuted")], ()),
])
def test_r8_causes_found_in_the_record(assess_record: AssessFn, resources: list[dict[str, Any]],
                                       causes: tuple[str, ...]) -> None:
    result = assess_record(anc(900), *resources)
    assert result.context is not None and result.context.causes == causes


@pytest.mark.parametrize(("unavailable", "partial"),
                         [((), ()), ((DataKind.MEDICATION_ORDERS,), (DataKind.CONDITIONS,))])
def test_r8_a_record_with_nothing_r8_reads_has_nothing_found(
        knowledge: Knowledge, unavailable: tuple[DataKind, ...], partial: tuple[DataKind, ...]) -> None:
    record = build_record(PATIENT_ID, patient(), [anc(1300)], knowledge, unavailable, partial)
    assert not (record.medications or record.procedures or record.conditions or record.coded_observations)
    assert clinical_context(record, NOW, knowledge) == ClinicalContext(
        chemotherapy=None, latest_chemotherapy=None, clozapine_active=False, duffy=DuffyStatus.UNKNOWN, causes=(),
        unavailable=unavailable, partial=partial)


def test_r8_a_chemotherapy_order_with_a_dosage_no_rule_can_read_still_counts(assess_record: AssessFn) -> None:
    """A MedicationRequest whose dosageInstruction is not of its FHIR type: dated by authoredOn, never dropped."""
    order = medication("MedicationRequest", "40048", ago(days=8))
    order["dosageInstruction"] = "carboplatin AUC 5 IV day 1"
    assessment = assess_record(anc(800), order)
    assert assessment.context is not None and assessment.context.chemotherapy is not None
    assert assessment.context.chemotherapy.agent == "carboplatin" and assessment.context.chemotherapy.in_window


def test_r8_what_the_card_names_never_depends_on_the_order_the_record_was_sent_in(assess_record: AssessFn) -> None:
    """A regimen's drugs given together (carboplatin and cyclophosphamide the same morning), causes found in the
    record: the same context whichever order a server sends the resources in."""
    regimen = [medication("MedicationAdministration", code, ago(days=5)) for code in ("3002", "40048")]
    causes = [medication("MedicationRequest", code, "2026-01-01") for code in ("2626", "1256")]
    contexts = []
    for resources in ([*regimen, *causes], [*causes[::-1], *regimen[::-1]]):
        result = assess_record(anc(700), *resources)
        assert result.context is not None and result.context.chemotherapy is not None
        contexts.append(result.context)
    assert contexts[0] == contexts[1]
    assert contexts[0].chemotherapy is not None and contexts[0].chemotherapy.agent == "carboplatin"  # (by name)
    assert [d.agent for d in contexts[0].doses] == ["carboplatin", "cyclophosphamide"]
    assert contexts[0].causes == ("azathioprine", "clozapine")


def test_r1_medications_procedures_and_conditions_of_another_patient_are_ignored_and_counted(
        assess_record: AssessFn) -> None:
    """R1's data-integrity rule for every entry R8 reads: another patient's chemotherapy never makes a fever with ANC
    700 a febrile neutropenia (R7), nor their clozapine or leukemia this patient's."""
    chemo = medication("MedicationAdministration", "3002", ago(days=5))
    clozapine = medication("MedicationRequest", "2626", "2026-01-01")
    leukemia = condition("C92.00")
    procedure = {"resourceType": "Procedure", "id": "p1", "status": "completed", "performedDateTime": ago(days=6),
                 "code": {"coding": [{"system": SNOMED, "code": "367336001"}]}}
    entries = [chemo, clozapine, leukemia, procedure]
    for subject, counted in (("Patient/someone-else", 4), ("https://ehr.example.org/fhir/Patient/someone-else", 4),
                             (f"Patient/{PATIENT_ID}", 0), (f"https://ehr.example.org/fhir/Patient/{PATIENT_ID}", 0)):
        for entry in entries:
            entry["subject"] = {"reference": subject}
        result = assess_record(anc(700), temperature("38.6"), *entries)
        assert result.context is not None and result.ignored_other_patient == counted
        if counted:
            assert result.context.chemotherapy is None and not result.context.clozapine_active
            assert result.context.causes == () and result.finding is Finding.FEVER_WITH_NEUTROPENIA
        else:
            assert result.context.chemotherapy is not None and result.context.clozapine_active
            assert "leukemia" in result.context.causes and result.finding is Finding.FEBRILE_NEUTROPENIA


def _chemotherapy_procedure(status: str) -> dict[str, Any]:
    return {"resourceType": "Procedure", "id": "p1", "status": status, "subject": {"reference": "Patient/pat-1"},
            "code": {"coding": [{"system": SNOMED, "code": "367336001"}]}, "performedDateTime": ago(days=9)}


@pytest.mark.parametrize(("status", "given"), [
    ("completed", True), ("in-progress", True),
    # stopped after some of it was begun, or paused to resume (FHIR's definitions): some was given -- the safer
    # reading the knowledge file takes for a dose stopped or on hold, here for a chemotherapy procedure too
    ("stopped", True), ("on-hold", True),
    ("preparation", False), ("not-done", False), ("entered-in-error", False), ("unknown", False),
])
def test_r8_a_chemotherapy_procedure_counts_by_its_status(assess_record: AssessFn, status: str, given: bool) -> None:
    result = assess_record(anc(700), _chemotherapy_procedure(status))
    assert result.context is not None
    assert (result.context.chemotherapy is not None and result.context.chemotherapy.in_window) is given
