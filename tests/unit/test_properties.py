"""Properties of the clinical core (hypothesis): random Observations never raise; classification is monotone
in the ANC -- a lower count is never judged less severe; the order a record is sent in never changes its
assessment."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cds_service.clinical.assessment import assess
from cds_service.fhir.records import build_record
from cds_service.knowledge import Knowledge, load_knowledge
from cds_service.knowledge.vocabulary import Severity
from tests.builders import LOINC, NOW, PATIENT_ID, UCUM, patient

KNOWLEDGE: Knowledge = load_knowledge()
CODES = [*sorted(KNOWLEDGE.codes.role_by_code), "30180-4", "57021-8", "1234-5"]
UNITS = ["10*3/uL", "/uL", "%", "Cel", "[degF]", "K/uL", "G/L", "g", "kg", "mmol/L", "", "K", "µL", "10*9/L"]
STATUSES = ["final", "amended", "corrected", "preliminary", "registered", "cancelled", "entered-in-error",
            "unknown", "bogus"]
WHEN = st.one_of(
    st.none(),
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)).map(
        lambda d: d.isoformat()),
    st.dates(min_value=date(2000, 1, 1), max_value=date(2030, 1, 1)).map(str),
    st.sampled_from(["2026", "2026-11", "not a date"]),
)


@st.composite
def observations(draw: st.DrawFn) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": draw(st.sampled_from(["a", "b", "c", "d"])),
        "status": draw(st.sampled_from(STATUSES)),
        "code": {"coding": [{"system": draw(st.sampled_from([LOINC, LOINC, "http://x"])),
                             "code": draw(st.sampled_from(CODES))}]},
        "subject": {"reference": draw(st.sampled_from([f"Patient/{PATIENT_ID}", "Patient/other", "Group/1"]))},
    }
    when = draw(WHEN)
    if when is not None:
        resource["effectiveDateTime"] = when
    if draw(st.booleans()):
        quantity: dict[str, Any] = {"value": draw(st.one_of(
            st.integers(-10**6, 10**9), st.decimals(allow_nan=False, allow_infinity=False, places=3).map(float)))}
        unit = draw(st.sampled_from(UNITS))
        if unit:
            quantity["unit"] = unit
            if draw(st.booleans()):
                quantity.update(system=UCUM, code=unit)
        comparator = draw(st.sampled_from([None, "<", "<=", ">", ">=", "ad"]))
        if comparator:
            quantity["comparator"] = comparator
        resource["valueQuantity"] = quantity
    if draw(st.booleans()):
        resource["meta"] = {"lastUpdated": draw(st.sampled_from(["2026-11-20T00:00:00Z", "2026-11-21T00:00:00Z"]))}
    if draw(st.booleans()):
        resource["specimen"] = {"reference": "Specimen/s1"}
    return resource


@given(st.lists(observations(), max_size=12), WHEN)
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_random_observations_never_raise(resources: list[dict[str, Any]], birth: str | None) -> None:
    person = patient(birth[:10] if birth and birth[:4].isdigit() else None)
    record = build_record(PATIENT_ID, person, resources, KNOWLEDGE)
    assessment = assess(record, NOW, KNOWLEDGE)
    # whatever came in: a finding only with something to say, and a current ANC only if collected in 7 days
    if assessment.current is not None:
        assert assessment.current.anc.collected_at is not None
        assert NOW - timedelta(days=7) <= assessment.current.anc.collected_at
    if assessment.finding is None:
        assert assessment.current is None or assessment.current.severity is Severity.NONE


RANK = {Severity.NONE: 0, Severity.MILD: 1, Severity.MODERATE: 2, Severity.SEVERE: 3}


def _classify(value: Decimal, birth: date) -> tuple[int, bool, int]:
    anc = {"resourceType": "Observation", "id": "x", "status": "final",
           "code": {"coding": [{"system": LOINC, "code": "751-8"}]}, "subject": {"reference": f"Patient/{PATIENT_ID}"},
           "effectiveDateTime": (NOW - timedelta(hours=1)).isoformat(),
           "valueQuantity": {"value": float(value), "unit": "/uL", "system": UCUM, "code": "/uL"}}
    result = assess(build_record(PATIENT_ID, patient(birth.isoformat()), [anc], KNOWLEDGE), NOW, KNOWLEDGE)
    assert result.current is not None
    return RANK[result.current.severity], result.current.profound, result.current.ctcae_grade or 0


@given(st.decimals(min_value=0, max_value=5000, places=1), st.decimals(min_value=0, max_value=5000, places=1),
       st.dates(min_value=date(1930, 1, 1), max_value=(NOW - timedelta(days=1)).date()))
@settings(max_examples=400, deadline=None)
def test_classification_is_monotone_in_the_anc(a: Decimal, b: Decimal, birth: date) -> None:
    low, high = sorted((a, b))
    low_rank, low_profound, low_grade = _classify(low, birth)
    high_rank, high_profound, high_grade = _classify(high, birth)
    assert low_rank >= high_rank
    assert low_profound >= high_profound
    assert low_grade >= high_grade


TIMES = [NOW - timedelta(hours=hours) for hours in (0.5, 1, 1.5, 3, 30, 24 * 8, 24 * 40)]  # few: ties on purpose
PARTS = [("751-8", "/uL", [90, 300, 499, 999, 1499, 2500]), ("753-4", "/uL", [300, 1200]),
         ("768-2", "/uL", [50, 400, 900]), ("763-3", "/uL", [50, 500]), ("6690-2", "10*3/uL", [0.4, 1.0, 5.0]),
         ("770-8", "%", [5, 40, 60]), ("769-0", "%", [20, 40]), ("764-1", "%", [1, 5]),
         ("8310-5", "Cel", [37.9, 38.0, 38.2, 38.3]), ("8331-1", "[degF]", [100.3, 100.4, 101.0])]
AGENTS = ["3002", "40048", "2626", "1256", "2002"]  # cyclophosphamide, carboplatin, clozapine, azathioprine...


@st.composite
def records_in_some_order(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Results, readings and doses with few distinct times, so that many share a moment; each with its own id."""
    resources: list[dict[str, Any]] = []
    for index in range(draw(st.integers(1, 10))):
        when = draw(st.sampled_from(TIMES)).isoformat()
        if draw(st.integers(0, 4)) == 0:
            resources.append({
                "resourceType": draw(st.sampled_from(["MedicationAdministration", "MedicationRequest"])),
                "id": f"m{index}", "status": "completed", "subject": {"reference": f"Patient/{PATIENT_ID}"},
                "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                                                          "code": draw(st.sampled_from(AGENTS))}]},
                "effectiveDateTime": draw(st.sampled_from([when, (NOW - timedelta(days=5)).isoformat()])),
                "authoredOn": when})
            continue
        code, unit, values = draw(st.sampled_from(PARTS))
        quantity: dict[str, Any] = {"value": draw(st.sampled_from(values)), "unit": unit, "system": UCUM, "code": unit}
        if draw(st.integers(0, 5)) == 0:
            quantity["comparator"] = "<"
        resources.append({
            "resourceType": "Observation", "id": f"o{index}",
            "status": draw(st.sampled_from(["final", "final", "preliminary"])),
            "code": {"coding": [{"system": LOINC, "code": code}]}, "subject": {"reference": f"Patient/{PATIENT_ID}"},
            "valueQuantity": quantity, **({"effectiveDateTime": when} if draw(st.integers(0, 9)) else {})})
    return resources


@given(records_in_some_order(), st.randoms(use_true_random=False))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_the_order_a_record_is_sent_in_never_changes_the_assessment(resources: list[dict[str, Any]],
                                                                   random: Any) -> None:
    """A FHIR server may send a patient's resources in any order, and readings of one moment in either: the
    assessment -- and so the card -- is the same (results of one code in one collection: the lowest, R4; a sustained
    fever: none below 38.0 C strictly between, R7; a regimen: every drug of it, R8)."""
    shuffled = resources[:]
    random.shuffle(shuffled)
    assessments = [assess(build_record(PATIENT_ID, patient(), sent, KNOWLEDGE), NOW, KNOWLEDGE)
                   for sent in (resources, shuffled)]
    assert assessments[0] == assessments[1]
