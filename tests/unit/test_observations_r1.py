"""R1: which Observations count, when each was collected, versions, and other patients' results."""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Any

import pytest

from cds_service.clinical.assessment import assess
from cds_service.clinical.model import Finding, Problem
from cds_service.fhir.records import Window, build_record
from cds_service.knowledge import Knowledge
from cds_service.knowledge.vocabulary import Role, Severity
from tests.builders import NOW, PATIENT_ID, ago, anc, observation, patient
from tests.conftest import AssessFn


@pytest.mark.parametrize(("status", "used", "preliminary"), [
    ("final", True, False), ("amended", True, False), ("corrected", True, False), ("preliminary", True, True),
    ("registered", False, False), ("cancelled", False, False), ("entered-in-error", False, False),
    ("unknown", False, False),
])
def test_r1_status(assess_record: AssessFn, status: str, used: bool, preliminary: bool) -> None:
    result = assess_record(anc(420, status=status))
    if not used:
        assert result.current is None and result.finding is None
        return
    assert result.current is not None and result.current.severity is Severity.SEVERE
    assert result.current.anc.preliminary is preliminary


@pytest.mark.parametrize(("status", "used", "preliminary"), [
    ("Final", True, False), ("FINAL", True, False), (" final ", True, False), ("Amended", True, False),
    ("Preliminary", True, True), ("CANCELLED", False, False), ("Entered-In-Error", False, False),
])
def test_r1_a_status_is_read_in_any_case(assess_record: AssessFn, status: str, used: bool, preliminary: bool) -> None:
    """R1's statuses as feeds write them ("Final"): the same statuses -- an ANC of 420 "Final" is severe, never
    dropped; one "CANCELLED" is never used, and nothing is said of it."""
    result = assess_record(anc(420, status=status))
    assert not result.data_problems
    if not used:
        assert result.current is None and result.finding is None
        return
    assert result.current is not None and result.current.severity is Severity.SEVERE
    assert result.current.anc.preliminary is preliminary


@pytest.mark.parametrize("status", ["F", "completed", "resulted", "verified", ""])
def test_r10_a_status_that_is_no_fhir_status_is_said_never_used_nor_dropped(assess_record: AssessFn,
                                                                          status: str) -> None:
    """R1 names the statuses that count and those that never do; one that is neither (an HL7 v2 code "F", an order's
    "completed") says nothing of whether the result is final: never used, never dropped unsaid -- a data problem
    that carries the status as sent (R10). An ANC of 420 "completed" was ignored in silence: no card at all."""
    result = assess_record(anc(420, status=status))
    assert result.current is None
    assert [(p.problem, p.sent) for p in result.data_problems] == [(Problem.UNKNOWN_STATUS, status)]


def test_r1_data_absent_reason_without_value_is_ignored(assess_record: AssessFn) -> None:
    absent = observation("751-8", None, when=ago(days=1),
                         dataAbsentReason={"coding": [{"system": "http://terminology.hl7.org/CodeSystem/"
                                                                 "data-absent-reason", "code": "error"}]})
    result = assess_record(absent)
    assert result.current is None and result.data_problems == () and result.finding is None


@pytest.mark.parametrize("subject", ["Patient/someone-else", "Group/ward-3",
                                     "https://ehr.example.org/fhir/Patient/someone-else",
                                     "urn:uuid:0b8b6f36-8f5c-4b2e-9a53-0e8f8a8a3b11"])
def test_r1_other_patients_observation_is_ignored_and_counted(assess_record: AssessFn, subject: str) -> None:
    result = assess_record(anc(300, subject=subject))
    assert result.current is None and result.finding is None
    assert result.ignored_other_patient == 1


@pytest.mark.parametrize("subject", [f"Patient/{PATIENT_ID}", f"https://ehr.example.org/fhir/Patient/{PATIENT_ID}",
                                     f"Patient/{PATIENT_ID}/_history/2", None])
def test_r1_own_patient_references(assess_record: AssessFn, subject: str | None) -> None:
    result = assess_record(anc(300, subject=subject))
    assert result.current is not None and result.ignored_other_patient == 0


def _timed(**fields: Any) -> dict[str, Any]:
    resource = anc(420, when=None, id="timed")
    resource.update(fields)
    return resource


@pytest.mark.parametrize(("fields", "expected"), [
    ({"effectiveDateTime": "2026-11-24T08:00:00Z", "issued": "2026-11-24T10:00:00Z"}, "2026-11-24T08:00:00+00:00"),
    ({"effectivePeriod": {"start": "2026-11-24T07:00:00Z", "end": "2026-11-24T07:30:00Z"}},
     "2026-11-24T07:30:00+00:00"),
    ({"effectivePeriod": {"start": "2026-11-24T07:00:00Z"}}, "2026-11-24T07:00:00+00:00"),
    ({"effectiveInstant": "2026-11-24T06:00:00Z"}, "2026-11-24T06:00:00+00:00"),
    ({"issued": "2026-11-24T10:00:00Z"}, "2026-11-24T10:00:00+00:00"),
    ({"effectiveDateTime": "2026-11-24"}, "2026-11-24T00:00:00+00:00"),
    # one instant sent with other offsets: the same time, kept in UTC itself
    ({"effectiveDateTime": "2026-11-25T01:30:00+02:00"}, "2026-11-24T23:30:00+00:00"),
    ({"effectiveDateTime": "2026-11-24T18:30:00-05:00"}, "2026-11-24T23:30:00+00:00"),
])
def test_r1_collection_time_order(assess_record: AssessFn, fields: dict[str, Any], expected: str) -> None:
    result = assess_record(_timed(**fields))
    assert result.current is not None and result.current.anc.collected_at is not None
    assert result.current.anc.collected_at.isoformat() == expected
    assert result.current.anc.collected_at.tzinfo is UTC


def test_r1_time_from_the_diagnostic_report_that_lists_it(assess_record: AssessFn) -> None:
    report = {"resourceType": "DiagnosticReport", "id": "cbc-1", "status": "final",
              "code": {"coding": [{"system": "http://loinc.org", "code": "57021-8"}]},
              "effectiveDateTime": "2026-11-24T05:00:00Z", "issued": "2026-11-24T09:00:00Z",
              "result": [{"reference": "Observation/timed"}]}
    result = assess_record(_timed(issued="2026-11-24T09:00:00Z"), report)
    assert result.current is not None and result.current.anc.collected_at is not None
    assert result.current.anc.collected_at.isoformat() == "2026-11-24T05:00:00+00:00"


def _report_carrying(*results: dict[str, Any], report_id: str = "cbc-2") -> dict[str, Any]:
    """A DiagnosticReport that carries its results inside it (`contained`), listing them as "#id"."""
    inner = [{k: v for k, v in r.items() if k != "effectiveDateTime"} for r in results]  # dated by the report
    return {"resourceType": "DiagnosticReport", "id": report_id, "status": "final",
            "subject": {"reference": f"Patient/{PATIENT_ID}"}, "code": {"coding": [{"system": "http://loinc.org",
                                                                                      "code": "57021-8"}]},
            "effectiveDateTime": "2026-11-24T05:00:00Z", "contained": inner,
            "result": [{"reference": f"#{r['id']}"} for r in inner]}


def test_r1_results_a_report_carries_inside_it_are_results(assess_record: AssessFn) -> None:
    """A laboratory's report may carry its results as contained Observations: they are Observations (R1), dated
    by the report that lists them, one collection with each other (R4) -- never a severe count let pass."""
    result = assess_record(_report_carrying(anc(300, id="anc")))
    assert result.current is not None and result.current.anc.value == 300
    assert result.current.anc.collected_at is not None
    assert result.current.anc.collected_at.isoformat() == "2026-11-24T05:00:00+00:00"
    assert result.finding is Finding.NEUTROPENIA and result.current.severity is Severity.SEVERE
    computed = assess_record(_report_carrying(observation("6690-2", 2.0, "10*3/uL", id="wbc"),
                                              observation("770-8", 20, "%", id="neut")))
    assert computed.current is not None and computed.current.anc.value == 400  # WBC x % of one report (R4)
    elsewhere = assess_record(_report_carrying(anc(300, id="anc", subject="Patient/someone-else")))
    assert elsewhere.current is None and elsewhere.ignored_other_patient == 1


def _cbc_with_components(*results: dict[str, Any], code: str = "58410-2") -> dict[str, Any]:
    """One Observation for a whole CBC, a component per count (FHIR asks for hasMember; some systems do this)."""
    return {"resourceType": "Observation", "id": "cbc-3", "status": "final", "subject": {"reference": "Patient/pat-1"},
            "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
            "effectiveDateTime": "2026-11-24T06:00:00Z",
            "component": [{"code": r["code"], "valueQuantity": r["valueQuantity"]} for r in results]}


def test_r1_the_counts_of_a_cbc_sent_as_components_are_results(assess_record: AssessFn) -> None:
    """Components share their Observation's time, status and subject: each count is a result (R2 by its code), the
    CBC one collection (R4) -- never a severe count let pass."""
    reported = assess_record(_cbc_with_components(observation("6690-2", 4.0, "10*3/uL"), anc(300)))
    assert reported.current is not None and reported.current.anc.value == 300
    assert reported.current.severity is Severity.SEVERE
    assert reported.current.anc.collected_at is not None
    assert reported.current.anc.collected_at.isoformat() == "2026-11-24T06:00:00+00:00"
    computed = assess_record(_cbc_with_components(observation("6690-2", 2.0, "10*3/uL"),
                                                  observation("770-8", 20, "%")))
    assert computed.current is not None and computed.current.anc.value == 400  # WBC x % (R4)
    # an Observation with a role of its own: its components are not read as results (only its value is)
    own = assess_record(_cbc_with_components(observation("770-8", 5, "%"), code="6690-2") | {
        "valueQuantity": {"value": 5.0, "unit": "10*3/uL", "system": "http://unitsofmeasure.org", "code": "10*3/uL"}})
    assert own.current is None and own.finding is None  # a WBC of 5,000 alone says nothing (R4.4)


@pytest.mark.parametrize("fields", [
    {}, {"effectiveDateTime": "2026-11"}, {"effectiveDateTime": "2026"},
    # year 10000 in UTC: no time can hold it, so undated as a partial date is -- not a failed request
    {"effectiveDateTime": "9999-12-31T23:59:59-01:00"},
])
def test_r1_undated_result_is_shown_but_never_current(assess_record: AssessFn, fields: dict[str, Any]) -> None:
    result = assess_record(_timed(**fields))
    assert result.current is None
    assert result.finding is Finding.NO_CURRENT_ANC
    assert [c.anc.value for c in result.undated_abnormal] == [420]


@pytest.mark.parametrize("when", ["2026-11-24 08:00:00Z", "20261124", "2026-W48-2", "24/11/2026", "2026-11-24T08",
                                  "2026-11-24T08:00:00+0530", "2026-1-24", "2026-11-24T08:00:00.Z", "2026-11-24Z",
                                  "\u0662\u0660\u0662\u0666"])  # (the last: a year in Arabic-Indic digits)
def test_r10_a_collection_time_that_is_no_fhir_time_makes_the_result_unreadable(assess_record: AssessFn,
                                                                                when: str) -> None:
    result = assess_record(_timed(effectiveDateTime=when))
    assert result.current is None and not result.undated_abnormal
    assert [p.problem for p in result.data_problems] == [Problem.UNREADABLE]


def test_r1_amended_version_replaces_the_original(assess_record: AssessFn) -> None:
    """RULES R1: 'an amended 1450 replaces the original 450' -- by the later meta.lastUpdated."""
    original = anc(450, id="cbc-anc", last_updated="2026-11-24T10:00:00Z")
    amended = anc(1450, id="cbc-anc", status="amended", last_updated="2026-11-24T15:00:00Z")
    for order in ((original, amended), (amended, original)):
        result = assess_record(*order)
        assert result.current is not None
        assert result.current.anc.value == 1450
        assert result.current.severity is Severity.MILD


@pytest.mark.parametrize("days", [1, 200])
def test_r1_a_later_version_older_than_the_look_back_still_replaces_the_earlier(knowledge: Knowledge,
                                                                               days: int) -> None:
    """The service lets go of results too old to change an answer as it reads them (the look-back window). A
    correction that dates a result 200 days back -- the later meta.lastUpdated -- must still replace the version
    dated yesterday (R1), in whichever order they come: no current ANC. (days=1: both recent, the control.)"""
    original = anc(300, id="x", when=ago(days=1), last_updated="2026-11-24T10:00:00Z")
    corrected = anc(1800, id="x", when=ago(days=days), last_updated="2026-11-24T15:00:00Z", status="corrected")
    window = Window(results_since=NOW - timedelta(days=91), temperatures_since=NOW - timedelta(hours=48))
    for sent in ([original, corrected], [corrected, original], [original, anc(450, when=ago(days=300)), corrected]):
        result = assess(build_record(PATIENT_ID, patient(), sent, knowledge, window=window), NOW, knowledge)
        if days == 1:
            assert result.current is not None and result.current.anc.value == 1800 and result.finding is None
        else:
            assert result.current is None and result.finding is None


def test_r1_a_result_sent_once_is_read_whatever_its_last_updated_says(assess_record: AssessFn) -> None:
    """meta.lastUpdated only orders versions of one id (R1): sent once, a garbled one loses nothing."""
    result = assess_record(anc(420, id="cbc-anc", last_updated="last tuesday"))
    assert result.current is not None and result.current.anc.value == 420
    assert result.current.severity is Severity.SEVERE
    assert not result.data_problems


def test_r1_a_version_whose_last_updated_is_no_time_cannot_be_placed(assess_record: AssessFn) -> None:
    """Two versions, one with a lastUpdated that is no FHIR time: it cannot replace the other (R10), which is read."""
    original = anc(450, id="cbc-anc", last_updated="2026-11-24T10:00:00Z")
    garbled = anc(1450, id="cbc-anc", status="amended", last_updated="24/11/2026 15:00")
    for order in ((original, garbled), (garbled, original)):
        result = assess_record(*order)
        assert result.current is not None and result.current.anc.value == 450
        assert result.current.severity is Severity.SEVERE


def test_r10_a_later_version_that_cannot_be_read_is_said_beside_the_version_read(assess_record: AssessFn) -> None:
    """The amendment (1,450) or the withdrawal of an ANC of 450 that cannot be read: the 450 is read, as the safer
    reading -- and the card now says a version of it could not be read (it was hidden, as no newer than the ANC)."""
    original = anc(450, id="cbc-anc", when=ago(days=1), last_updated="2026-11-24T13:00:00Z")
    for later in (anc(1450, id="cbc-anc", status="amended", when=ago(days=1), last_updated="24/11/2026 15:00"),
                  anc(450, id="cbc-anc", status="entered-in-error", when="2026-11-24 12:00:00Z",
                      last_updated="2026-11-24T15:00:00Z")):
        result = assess_record(original, later)
        assert result.current is not None and result.current.severity is Severity.SEVERE
        assert [(p.problem, p.role, p.observation_id) for p in result.data_problems] == [
            (Problem.UNREADABLE, Role.ANC, "cbc-anc")]


def test_r10_a_count_of_the_current_collection_that_cannot_be_read_is_said(assess_record: AssessFn) -> None:
    """R4: of two ANCs of one collection the lower is used -- so a manual ANC that cannot be read, beside an automated
    1,600 of the same collection, may be the count: said (it was hidden, as no newer than the 1,600; no card)."""
    manual = observation("753-4", 400, "kcells", ucum=False, when=ago(days=1))
    result = assess_record(anc(1600, when=ago(days=1)), manual)
    assert result.finding is None
    assert [(p.problem, p.loinc) for p in result.data_problems] == [(Problem.UNRECOGNISED_UNIT, "753-4")]


@pytest.mark.parametrize(("code", "shown"), [
    ("753-4", True),  # another ANC of the collection: of two, the lower is the count (R4)
    ("764-1", False), ("6690-2", False), ("770-8", False),  # a band %, a WBC, a neutrophil %: R4 uses the reported ANC
])
def test_r10_a_result_of_the_current_collection_is_said_only_when_it_may_change_its_anc(
        assess_record: AssessFn, code: str, shown: bool) -> None:
    """No card for nothing: beside a reported ANC of 1,600, only another ANC of that collection that cannot be read
    may change the count."""
    result = assess_record(anc(1600, when=ago(days=1)), observation(code, 4, "kcells", ucum=False, when=ago(days=1)))
    assert [p.loinc for p in result.data_problems] == ([code] if shown else [])


def test_r10_a_wbc_that_cannot_be_read_beside_a_computed_anc_is_said(assess_record: AssessFn) -> None:
    """A computed ANC (WBC x %) and a second WBC of the same collection that cannot be read: of two WBCs the lower is
    used (R4) -- it may change the count."""
    result = assess_record(observation("6690-2", 4000, when=ago(days=1)), observation("770-8", 40, "%",
                                                                                    when=ago(days=1)),
                           observation("26464-8", 2, "kcells", ucum=False, when=ago(days=1)))
    assert result.current is not None and result.current.anc.value == 1600
    assert [p.loinc for p in result.data_problems] == ["26464-8"]


def test_r1_versions_none_of_which_can_be_placed_are_data_problems(assess_record: AssessFn) -> None:
    first = anc(450, id="cbc-anc", last_updated="yesterday")
    second = anc(1450, id="cbc-anc", status="amended", last_updated="today")
    result = assess_record(first, second)
    assert result.current is None
    assert [p.problem for p in result.data_problems] == [Problem.UNREADABLE, Problem.UNREADABLE]


def test_r1_later_entered_in_error_version_withdraws_the_result(assess_record: AssessFn) -> None:
    original = anc(300, id="cbc-anc", last_updated="2026-11-24T10:00:00Z")
    withdrawn = anc(300, id="cbc-anc", status="entered-in-error", last_updated="2026-11-24T15:00:00Z")
    result = assess_record(original, withdrawn)
    assert result.current is None and result.finding is None


def test_r2_codes_match_on_system_and_code_never_display(assess_record: AssessFn) -> None:
    wrong_system = anc(300)
    wrong_system["code"] = {"coding": [{"system": "http://example.org/local", "code": "751-8"}],
                            "text": "Neutrophils [#/volume] in Blood"}
    display_only = anc(300)
    display_only["code"] = {"coding": [{"display": "Absolute neutrophil count"}], "text": "ANC"}
    result = assess_record(wrong_system, display_only)
    assert result.current is None and result.finding is None


def test_r2_trap_basophil_percent_is_not_bands(assess_record: AssessFn) -> None:
    """30180-4 is basophils %: it must not be added to a segmented % as if it were bands."""
    when = ago(days=1)
    result = assess_record(observation("6690-2", 2.0, "10*3/uL", when=when),
                           observation("769-0", 20, "%", when=when),
                           observation("30180-4", 30, "%", when=when))
    assert result.current is not None
    assert result.current.anc.value == 400  # 2000 x 20 %, basophils ignored


@pytest.mark.parametrize(("code", "unit", "problem"), [
    ("751-8", "%", "percent-unit-on-count-code"),
    ("770-8", "10*3/uL", "count-unit-on-percent-code"),
    ("751-8", "kcells", "unrecognised-unit"),
])
def test_r10_unit_problems_are_reported_not_classified(assess_record: AssessFn, code: str, unit: str,
                                                       problem: str) -> None:
    result = assess_record(observation(code, 40, unit, ucum=unit != "kcells", when=ago(hours=3)))
    assert result.current is None and result.finding is None
    assert [p.problem.value for p in result.data_problems] == [problem]


def test_r10_invalid_fhir_is_a_data_problem(assess_record: AssessFn) -> None:
    broken = anc(300)
    broken["status"] = 7  # not a code
    result = assess_record(broken)
    assert result.current is None
    assert [p.problem.value for p in result.data_problems] == ["unreadable-resource"]


def test_r10_problems_are_listed_oldest_first_whatever_the_order_they_were_sent_in(assess_record: AssessFn) -> None:
    problems = [observation("751-8", 40, "kcells", ucum=False, when=ago(days=days)) for days in (2, 30, 9)]
    for sent in (problems, problems[::-1]):
        result = assess_record(*sent)
        assert [p.collected_at for p in result.data_problems] == sorted(p.collected_at for p in result.data_problems)
        assert len(result.data_problems) == 3


def test_r1_of_equal_anc_results_of_one_collection_the_final_one_is_shown(assess_record: AssessFn) -> None:
    """Two ANCs of 999 for one collection, one preliminary: the final one, whichever was sent first."""
    results = [anc(999, when=ago(hours=3), status="preliminary"), anc(999, when=ago(hours=3))]
    for sent in (results, results[::-1]):
        result = assess_record(*sent)
        assert result.current is not None and not result.current.anc.preliminary


def test_r10_old_problem_behind_a_newer_anc_is_not_shown(assess_record: AssessFn) -> None:
    """A data problem older than the newest ANC cannot hide a newer count: no card for it."""
    result = assess_record(observation("751-8", 40, "kcells", ucum=False, when=ago(days=5)), anc(2500))
    assert result.data_problems == () and result.finding is None



def _panel(code: str, *members: str, panel_id: str = "cbc-panel", **fields: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": panel_id, "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
            "hasMember": [{"reference": f"Observation/{m}"} for m in members], **fields}


@pytest.mark.parametrize("panel_code", ["58410-2", "57021-8", "57782-5", "69742-5"])
def test_r1_time_from_the_panel_that_lists_it_in_has_member(assess_record: AssessFn, panel_code: str) -> None:
    panel = _panel(panel_code, "timed", effectiveDateTime="2026-11-24T04:00:00Z")
    result = assess_record(_timed(issued="2026-11-24T09:00:00Z"), panel)
    assert result.current is not None and result.current.anc.collected_at is not None
    assert result.current.anc.collected_at.isoformat() == "2026-11-24T04:00:00+00:00"


@pytest.mark.parametrize("members", [
    "Observation/timed", {"reference": "Observation/timed"}, [None, {"reference": "Observation/timed"}],
    [{"reference": 7}, {"reference": "Observation/timed"}],
])
def test_r1_a_panel_whose_has_member_is_not_of_its_type_dates_nothing(assess_record: AssessFn,
                                                                     members: Any) -> None:
    """R10: the panel cannot be read, so it dates none of its members; R1: the result falls back to `issued`."""
    panel = {**_panel("58410-2", panel_id="broken", effectiveDateTime="2026-11-24T04:00:00Z"), "hasMember": members}
    result = assess_record(_timed(issued="2026-11-24T09:00:00Z"), panel)
    assert result.current is not None and result.current.anc.collected_at is not None
    assert result.current.anc.collected_at.isoformat() == "2026-11-24T09:00:00+00:00"


@pytest.mark.parametrize(("fields", "expected"), [
    # R1 order: the result's own effective[x] first, then the panel's, then the report's, then issued
    ({"effectiveDateTime": "2026-11-24T08:00:00Z"}, "2026-11-24T08:00:00+00:00"),
    ({}, "2026-11-24T04:00:00+00:00"),
])
def test_r1_own_time_before_the_panel_time(assess_record: AssessFn, fields: dict[str, Any], expected: str) -> None:
    panel = _panel("57021-8", "timed", effectiveDateTime="2026-11-24T04:00:00Z")
    report = {"resourceType": "DiagnosticReport", "id": "cbc-1", "status": "final", "code": {"text": "CBC"},
              "effectiveDateTime": "2026-11-24T05:00:00Z", "result": [{"reference": "Observation/cbc-panel"}]}
    result = assess_record(_timed(issued="2026-11-24T09:00:00Z", **fields), panel, report)
    assert result.current is not None and result.current.anc.collected_at is not None
    assert result.current.anc.collected_at.isoformat() == expected


def test_r1_a_report_that_lists_the_panel_dates_its_members(assess_record: AssessFn) -> None:
    panel = _panel("57021-8", "timed")  # the panel carries no time itself
    report = {"resourceType": "DiagnosticReport", "id": "cbc-1", "status": "final", "code": {"text": "CBC"},
              "effectiveDateTime": "2026-11-24T05:00:00Z", "result": [{"reference": "Observation/cbc-panel"}]}
    result = assess_record(_timed(issued="2026-11-24T09:00:00Z"), panel, report)
    assert result.current is not None and result.current.anc.collected_at is not None
    assert result.current.anc.collected_at.isoformat() == "2026-11-24T05:00:00+00:00"


def test_r1_r4_results_of_one_panel_are_one_collection(assess_record: AssessFn) -> None:
    """A WBC and a neutrophil % with no time or specimen of their own, listed by one panel: ANC = 2,000 x 40 %."""
    wbc = observation("6690-2", 2.0, "10*3/uL", id="w1")
    neut = observation("770-8", 40, "%", id="n1")
    result = assess_record(wbc, neut, _panel("57021-8", "w1", "n1", effectiveDateTime="2026-11-24T04:00:00Z"))
    assert result.current is not None
    assert (result.current.anc.value, result.current.anc.source) == (800, "computed")


def test_r1_a_panel_code_not_listed_dates_nothing(assess_record: AssessFn) -> None:
    panel = _panel("24323-8", "timed", effectiveDateTime="2026-11-24T04:00:00Z")  # a metabolic panel
    result = assess_record(_timed(), panel)
    assert result.current is None and [c.anc.value for c in result.undated_abnormal] == [420]


@pytest.mark.parametrize("extra", [
    {"component": "not a list"}, {"hasMember": {"reference": 7}}, {"valueString": 42},
    {"valueCodeableConcept": "text"}, {"dataAbsentReason": "unknown"},
])
def test_r1_a_result_is_never_refused_for_an_element_no_rule_reads_of_it(assess_record: AssessFn,
                                                                       extra: dict[str, Any]) -> None:
    """Elements read only of Duffy results or panels, malformed on an ANC: the ANC is read as ever."""
    result = assess_record({**anc(420), **extra})
    assert result.current is not None and result.current.anc.value == 420
