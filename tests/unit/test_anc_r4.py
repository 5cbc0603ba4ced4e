"""R4: the ANC of one collection -- reported, segs + bands, computed from WBC x %, the WBC bound."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from cds_service.clinical.anc import anc_measurements
from cds_service.clinical.model import AncSource, LabResult, Note, Problem
from cds_service.knowledge import Knowledge
from cds_service.knowledge.vocabulary import Role, Severity
from tests.builders import ago, anc, observation
from tests.conftest import AssessFn

T = ago(days=1)  # one collection time
OTHER_T = ago(days=1, hours=2)  # another collection


def wbc(value: float, code: str = "6690-2", when: str = T, **kw: object) -> dict[str, object]:
    return observation(code, value, "10*3/uL", when=when, **kw)  # type: ignore[arg-type]


def pct(code: str, value: float, when: str = T) -> dict[str, object]:
    return observation(code, value, "%", when=when)


def count(code: str, value: float, when: str = T) -> dict[str, object]:
    return observation(code, value, "/uL", when=when)


@pytest.mark.parametrize(("resources", "value", "source", "notes"), [
    # R4.1 reported ANC wins over everything else of the collection
    ([anc(420, when=T), wbc(4.0), pct("770-8", 60)], None, AncSource.REPORTED, (Note.REPORTED_COMPUTED_MISMATCH,)),
    ([anc(753, when=T), wbc(1.5), pct("770-8", 50)], Decimal(753), AncSource.REPORTED, ()),
    # R4.2 segmented count + band count; segmented alone with "bands not reported"
    ([count("768-2", 350), count("763-3", 100)], Decimal(450), AncSource.SEGS_BANDS, ()),
    ([count("30451-9", 350)], Decimal(350), AncSource.SEGS_BANDS, (Note.BANDS_NOT_REPORTED,)),
    # R4.3 computed: WBC x total neutrophil %
    ([wbc(2.0), pct("770-8", 40)], Decimal(800), AncSource.COMPUTED, ()),
    # R4.3 computed: WBC x (segmented % + band %)
    ([wbc(1.8), pct("769-0", 20), pct("764-1", 5)], Decimal(450), AncSource.COMPUTED, ()),
    ([wbc(1.8), pct("26505-8", 20)], Decimal(360), AncSource.COMPUTED, (Note.BANDS_NOT_REPORTED,)),
    # R4.3 never add a band % to a total neutrophil % (770-8 already includes bands)
    ([wbc(2.0), pct("770-8", 40), pct("764-1", 10)], Decimal(800), AncSource.COMPUTED, ()),
    # R2: 33256-9 (nRBC-corrected WBC) preferred when present
    ([wbc(3.0, "6690-2"), wbc(2.0, "33256-9"), pct("770-8", 40)], Decimal(800), AncSource.COMPUTED, ()),
    # R4.4 WBC below 500/uL with no differential: ANC < 500, severe
    ([wbc(0.499)], Decimal(499), AncSource.WBC_BOUND, ()),
])
def test_r4_paths(assess_record: AssessFn, resources: list[dict[str, object]], value: Decimal | None,
                  source: AncSource, notes: tuple[Note, ...]) -> None:
    result = assess_record(*resources)
    assert result.current is not None
    if value is not None:
        assert result.current.anc.value == value
    assert result.current.anc.source is source
    assert result.current.anc.notes == notes


def test_r4_reported_and_computed_disagreeing_uses_reported(assess_record: AssessFn) -> None:
    result = assess_record(anc(420, when=T), wbc(4.0), pct("770-8", 60))
    assert result.current is not None
    assert result.current.anc.value == 420
    assert result.current.anc.computed_value == 2400
    assert result.current.severity is Severity.SEVERE


@pytest.mark.parametrize(("computed_pct", "mismatch"), [(55, False), (55.01, True), (45, False), (44.99, True)])
def test_r4_mismatch_is_more_than_ten_percent(assess_record: AssessFn, computed_pct: float, mismatch: bool) -> None:
    """Reported 1000; computed 1100 or 900 is within 10 %; a hair beyond is a mismatch."""
    result = assess_record(anc(1000, when=T), wbc(2.0), pct("770-8", computed_pct))
    assert result.current is not None
    assert (Note.REPORTED_COMPUTED_MISMATCH in result.current.anc.notes) is mismatch


@pytest.mark.parametrize(("value", "severity", "profound"), [(0.499, Severity.SEVERE, False),
                                                             (0.099, Severity.SEVERE, True)])
def test_r4_wbc_bound_is_severe(assess_record: AssessFn, value: float, severity: Severity, profound: bool) -> None:
    result = assess_record(wbc(value))
    assert result.current is not None
    assert result.current.anc.source is AncSource.WBC_BOUND
    assert (result.current.severity, result.current.profound) == (severity, profound)
    assert result.current.anc.comparator == "<="


@pytest.mark.parametrize(("birth_date", "wbc_per_ul", "severity"), [
    # R4.4: classified at the least severe band the bound certainly lies in; at or above the LLN, nothing
    ("1980-05-01", 99, Severity.SEVERE),
    ("1980-05-01", 100, Severity.SEVERE),
    ("1980-05-01", 499, Severity.SEVERE),
    ("1980-05-01", 500, Severity.MODERATE),  # ANC <= 500: at least moderate
    ("1980-05-01", 999, Severity.MODERATE),
    ("1980-05-01", 1000, Severity.MILD),  # ANC <= 1000: at least mild (LLN 1500)
    ("1980-05-01", 1499, Severity.MILD),  # LLN - 1
    ("1980-05-01", 1500, None),  # at the LLN: says nothing about the ANC
    ("1980-05-01", 6000, None),
    ("2026-05-24", 999, Severity.MODERATE),  # 6 months old: LLN 1000
    ("2026-05-24", 1000, None),
    ("2026-11-23", 1799, Severity.MILD),  # about 24 hours old at collection: LLN 1800
    ("2026-11-23", 1800, None),
])
def test_r4_wbc_bound_below_the_lln(assess_record: AssessFn, birth_date: str, wbc_per_ul: int,
                                    severity: Severity | None) -> None:
    result = assess_record(wbc(wbc_per_ul / 1000), birth_date=birth_date)
    if severity is None:
        assert result.current is None and result.finding is None
    else:
        assert result.current is not None and result.current.anc.source is AncSource.WBC_BOUND
        assert result.current.anc.value == Decimal(wbc_per_ul) and result.current.anc.comparator == "<="
        assert result.current.severity is severity
        assert result.current.profound is (wbc_per_ul < 100)  # R5: ANC <= 99 is certainly below 100
        assert result.finding is not None


def test_r4_a_wbc_at_or_above_the_lln_hides_no_older_anc(assess_record: AssessFn) -> None:
    """A normal WBC with no differential says nothing: the ANC of 400 the day before stays the current one."""
    result = assess_record(anc(400, when=OTHER_T), wbc(6.0))
    assert result.current is not None and result.current.anc.value == Decimal(400)


def test_r4_never_computes_across_collections(assess_record: AssessFn) -> None:
    result = assess_record(wbc(2.0, when=T), pct("770-8", 20, when=OTHER_T))
    assert result.current is None


def test_r4_same_diagnostic_report_is_one_collection(assess_record: AssessFn) -> None:
    """Results of one DiagnosticReport combine even when their own times differ by seconds."""
    white = wbc(2.0, when="2026-11-24T08:00:00Z", id="w1")
    neut = pct("770-8", 20, when="2026-11-24T08:00:30Z")
    neut["id"] = "n1"
    report = {"resourceType": "DiagnosticReport", "id": "cbc", "status": "final",
              "code": {"coding": [{"system": "http://loinc.org", "code": "57021-8"}]},
              "effectiveDateTime": "2026-11-24T08:00:00Z",
              "result": [{"reference": "Observation/w1"}, {"reference": "Observation/n1"}]}
    result = assess_record(white, neut, report)
    assert result.current is not None and result.current.anc.value == 400


def test_r4_same_specimen_is_one_collection(assess_record: AssessFn) -> None:
    white = wbc(2.0, when="2026-11-24T08:00:00Z", specimen="Specimen/s1")
    neut = observation("770-8", 20, "%", when="2026-11-24T08:05:00Z", specimen="Specimen/s1")
    result = assess_record(white, neut)
    assert result.current is not None and result.current.anc.value == 400


def test_r4_conflicting_reported_ancs_use_the_lowest(assess_record: AssessFn) -> None:
    result = assess_record(anc(1600, when=T), observation("753-4", 900, "/uL", when=T))
    assert result.current is not None
    assert result.current.anc.value == 900
    assert Note.CONFLICTING_REPORTED in result.current.anc.notes


@pytest.mark.parametrize(("resources", "value", "comparator"), [
    ([count("768-2", 400), count("763-3", 50), count("763-3", 500)], 450, None),  # two band counts
    ([count("768-2", 400), count("768-2", 900)], 400, None),  # two segmented counts
    ([wbc(1.0), wbc(5.0), pct("770-8", 40)], 400, None),  # two WBCs of one code
    ([wbc(2.0), pct("770-8", 40), pct("770-8", 60)], 800, None),  # two total neutrophil %
    ([wbc(2.0), pct("769-0", 20), pct("769-0", 30), pct("764-1", 5), pct("764-1", 1)], 420, None),
    ([wbc(0.9, comparator="<"), wbc(0.9)], 900, "<"),  # WBC "<900" and 900: the bound says "below 900"
    ([anc(300, when=T, comparator="<"), anc(300, when=T)], 300, "<"),  # two reported ANCs: "<300" and 300
])
def test_r4_several_results_of_one_code_in_a_collection_give_the_lowest_anc(
        assess_record: AssessFn, resources: list[dict[str, object]], value: int, comparator: str | None) -> None:
    """As for several reported ANCs: the lowest, so that the order a server sends them in never changes the card."""
    for sent in (resources, resources[::-1]):
        result = assess_record(*sent)
        assert result.current is not None
        assert (result.current.anc.value, result.current.anc.comparator) == (value, comparator)


@pytest.mark.parametrize(("resources", "value"), [
    ([wbc(2.0), pct("770-8", 40), pct("23761-0", 20)], 400),  # automated 40 %, manual 20 % (a flagged smear)
    ([wbc(2.0), pct("770-8", 20), pct("23761-0", 40)], 400),
    ([wbc(2.0), pct("770-8", 40), pct("26511-6", 20)], 400),
    ([wbc(1.8), pct("769-0", 30), pct("26505-8", 20), pct("764-1", 5)], 450),  # two segmented % codes
    ([wbc(1.8), pct("769-0", 20), pct("764-1", 10), pct("26508-2", 5)], 450),  # two band % codes
    ([count("30451-9", 900), count("768-2", 400)], 400),  # two segmented count codes
    ([count("768-2", 400), count("26507-4", 300), count("763-3", 50)], 450),  # two band count codes
    ([wbc(3.0, "6690-2"), wbc(2.0, "804-5"), pct("770-8", 40)], 800),  # automated and manual WBC
    ([wbc(2.0, "6690-2"), wbc(3.0, "33256-9"), pct("770-8", 40)], 1200),  # R2: nRBC-corrected WBC preferred
])
def test_r4_several_codes_of_one_role_give_the_lowest_anc_unless_r2_prefers_one(
        assess_record: AssessFn, resources: list[dict[str, object]], value: int) -> None:
    """R2 states a preference among the codes of one role only for WBC (33256-9, nRBC-corrected). Among any other
    codes of one role in one collection -- an automated and a manual differential -- the lowest value is used, as
    for several reported ANCs (alerts err on the safe side); the automated % had been used whatever the manual
    one said."""
    for sent in (resources, resources[::-1]):
        result = assess_record(*sent)
        assert result.current is not None and result.current.anc.value == value


def test_r4_latest_collection_is_current(assess_record: AssessFn) -> None:
    result = assess_record(anc(300, when=ago(days=3)), wbc(4.0, when=ago(hours=5)), pct("770-8", 50, ago(hours=5)))
    assert result.current is not None
    assert result.current.anc.value == 2000 and result.finding is None


@pytest.mark.parametrize("comparator", [None, "<", "<="])
@pytest.mark.parametrize(("observation_id", "reference_low"), [("a1", Decimal(1500)), (None, None)])
def test_r4_1_a_reported_anc_alone(knowledge: Knowledge, comparator: str | None, observation_id: str | None,
                                   reference_low: Decimal | None) -> None:
    """The most common collection, one reported ANC: its value, bound, id and the lab's lower limit, as reported."""
    result = LabResult(observation_id=observation_id, role=Role.ANC, loinc="751-8", value=Decimal(420),
                       comparator=comparator, collected_at=datetime(2026, 11, 24, tzinfo=UTC), preliminary=False,
                       specimen=None, report=None, reference_low=reference_low)
    [measured], [] = anc_measurements([result], knowledge)
    assert (measured.value, measured.comparator, measured.source) == (Decimal(420), comparator, AncSource.REPORTED)
    assert measured.observation_ids == ((observation_id,) if observation_id else ())
    assert measured.reference_low == reference_low


# -- R4.4 and R10: a count above the WBC of its own collection cannot be right --------------------------------------
@pytest.mark.parametrize(("resources", "contradiction"), [
    ([anc(3000, when=T), wbc(0.4)], True),  # a normal ANC above a WBC of 400: neither is read
    ([anc(440, when=T), wbc(0.4)], False),  # within R4's 10 % of the WBC (results rounded apart)
    ([anc(441, when=T), wbc(0.4)], True),
    ([anc(400, when=T), wbc(0.4)], False),  # every white cell a neutrophil
    ([anc(3000, when=T), wbc(1.0), pct("770-8", 30)], True),  # above the WBC its own differential was taken from
    ([anc(1000, when=T, comparator="<"), wbc(0.4)], False),  # "<1000": the WBC does not contradict a bound
    ([anc(3000, when=T), wbc(0.4), anc(300, when=T)], False),  # the lowest reported ANC, 300, is below the WBC
    ([count("768-2", 3000), wbc(0.4)], True),  # a segmented count
    ([count("768-2", 300), count("763-3", 200), wbc(0.4)], True),  # segs + bands, 500 > 440
    ([count("768-2", 300), count("763-3", 100), wbc(0.4)], False),
])
def test_r4_a_count_above_the_wbc_of_its_collection_is_a_data_problem(
        assess_record: AssessFn, resources: list[dict[str, object]], contradiction: bool) -> None:
    result = assess_record(*resources)
    problems = [p.problem for p in result.data_problems]
    assert (problems == [Problem.ANC_ABOVE_WBC]) is contradiction
    assert (result.current is None) is contradiction  # never classified, neither by the count nor by the WBC
    if contradiction:
        assert result.finding is None and result.data_problems[0].role is Role.ANC


def test_r4_a_contradictory_collection_hides_no_older_count(assess_record: AssessFn) -> None:
    """ANC 300 three days ago; today an ANC of 3,000 with a WBC of 400: the severe count stays current, and the card
    for the contradiction comes with it."""
    result = assess_record(anc(300, when=ago(days=3)), anc(3000, when=T), wbc(0.4))
    assert result.current is not None and result.current.anc.value == 300
    assert result.current.severity is Severity.SEVERE
    assert [p.problem for p in result.data_problems] == [Problem.ANC_ABOVE_WBC]


# -- a reported upper bound is never read looser than the rest of its collection allows ------------------------------
@pytest.mark.parametrize(("resources", "value", "comparator", "source", "severity"), [
    # "<1000" (moderate at least) with a WBC of 400: the ANC is at most 400 (R4.4), severe for certain
    ([anc(1000, when=T, comparator="<"), wbc(0.4)], 400, "<=", AncSource.REPORTED, Severity.SEVERE),
    ([anc(500, when=T, comparator="<"), wbc(0.08)], 80, "<=", AncSource.REPORTED, Severity.SEVERE),  # profound
    ([anc(300, when=T, comparator="<"), wbc(0.4)], 300, "<", AncSource.REPORTED, Severity.SEVERE),  # the tighter
    ([anc(1000, when=T, comparator="<"), wbc(1.2)], 1000, "<", AncSource.REPORTED, Severity.MODERATE),
    # a count measured within the bound is the ANC of the collection
    ([anc(1000, when=T, comparator="<"), wbc(1.0), pct("770-8", 30)], 300, None, AncSource.COMPUTED,
     Severity.SEVERE),
    ([anc(1000, when=T, comparator="<"), count("768-2", 450), count("763-3", 40)], 490, None, AncSource.SEGS_BANDS,
     Severity.SEVERE),
    ([anc(2000, when=T, comparator="<"), wbc(3.0), pct("770-8", 60)], 1800, None, AncSource.COMPUTED, Severity.NONE),
])
def test_r4_a_reported_bound_is_read_with_what_its_collection_adds(
        assess_record: AssessFn, resources: list[dict[str, object]], value: int, comparator: str | None,
        source: AncSource, severity: Severity) -> None:
    measured = assess_record(*resources).history
    assert len(measured) == 1
    [item] = measured
    assert (item.anc.value, item.anc.comparator, item.anc.source) == (value, comparator, source)
    assert item.severity is severity
    assert (Note.BOUNDED_BY_WBC in item.anc.notes) is (source is AncSource.REPORTED and comparator == "<=")


def test_r4_a_reported_bound_above_the_lln_with_a_wbc_above_it_stays_a_data_problem(assess_record: AssessFn) -> None:
    """'<2000' with a WBC of 1,800 and no differential: the ANC is at most 1,800 -- still nothing about whether it is
    below 1,500: the data problem of the bound, as without the WBC."""
    result = assess_record(anc(2000, when=T, comparator="<"), wbc(1.8))
    assert result.current is None and result.finding is None
    assert [p.problem for p in result.data_problems] == [Problem.UPPER_BOUND_ABOVE_LIMIT]


@pytest.mark.parametrize(("comparator", "read_as", "profound"), [
    ("<", "<", True), ("&lt;", "<", True), ("\u2264", "<=", False), ("&lt;=", "<=", False),
])
def test_a_comparator_as_converters_write_it_is_fhirs(assess_record: AssessFn, comparator: str, read_as: str,
                                                      profound: bool) -> None:
    """An ANC "<100" as a CDA's text carries it, HTML-escaped ("&lt;"), or with the one-character sign ("≤"): the same
    bound -- "<100" is profound (R5: 99), "≤100" may be 100, severe -- where it was a data problem (info card)."""
    result = assess_record(anc(100, comparator=comparator))
    assert result.current is not None and not result.data_problems
    assert (result.current.anc.comparator, result.current.profound) == (read_as, profound)
    assert result.current.severity is Severity.SEVERE
