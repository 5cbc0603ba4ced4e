"""R6 and the finding: from a patient's record and the time now to one Assessment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from operator import attrgetter

import msgspec

from cds_service.clinical.anc import anc_measurements, may_change
from cds_service.clinical.context import clinical_context, clozapine_action
from cds_service.clinical.fever import detect_fever, temperature_readings
from cds_service.clinical.labs import read_results
from cds_service.clinical.model import (
    MEDICATION_KINDS,
    AncMeasurement,
    AncSource,
    Assessment,
    ChemotherapyDose,
    Classified,
    ClinicalContext,
    DataProblem,
    DuffyStatus,
    Finding,
    LabResult,
    PatientRecord,
    Problem,
    Trend,
    TrendSummary,
)
from cds_service.clinical.severity import age_scale, classify, is_below
from cds_service.clinical.units import UPPER_BOUND_COMPARATORS
from cds_service.knowledge import Knowledge, Thresholds
from cds_service.knowledge.vocabulary import LlnBasis, Role, Severity


def _birth_weight(results: tuple[LabResult, ...]) -> Decimal | None:
    weights = [r for r in results if r.role is Role.BIRTH_WEIGHT]
    if not weights:
        return None
    return max(weights, key=lambda r: (r.collected_at is not None, r.collected_at or datetime.min)).value


def trend(dated: list[Classified], now: datetime, thresholds: Thresholds) -> TrendSummary | None:
    """R6: with 2+ ANCs in the trend window, the last few and their direction -- a direction only where it is certain:
    an ANC sent as an upper bound (R4: "<300", at most the WBC) is somewhere below its value."""
    since = now - timedelta(days=thresholds.trend_window_days)
    window = [c for c in dated if c.anc.collected_at is not None and c.anc.collected_at >= since]
    if len(window) < 2:
        return None
    latest, previous = window[-1].anc, window[-2].anc
    normal = Severity.NONE
    exact = latest.measured  # (an upper bound shows no rise: its count may be any below it)
    if exact and window[-1].severity is normal and any(c.severity is not normal for c in window[:-1]):
        direction = Trend.RECOVERED  # a nadir followed by recovery above the LLN
    elif exact and window[-2].severity is not normal and _certainly_above(
            latest.value, thresholds.recovering_above_fraction, previous):
        direction = Trend.RECOVERING
    elif previous.measured and is_below(
            latest.value, latest.comparator, thresholds.falling_below_fraction * previous.value):
        direction = Trend.FALLING
    elif exact and previous.measured:
        direction = Trend.STABLE
    else:
        direction = Trend.UNKNOWN  # e.g. ANC 300, then "at most 1,200": recovering, or still 300
    return TrendSummary(tuple(window[-thresholds.trend_values :]), direction)


def _certainly_above(value: Decimal, fraction: Decimal, earlier: AncMeasurement) -> bool:
    """True when `value` is certainly more than `fraction` of the earlier ANC: of its value when it was measured, of
    the count below it when it is an upper bound ("<300": any count under 300; "<=300": up to 300 itself)."""
    limit = fraction * earlier.value
    return value >= limit if earlier.comparator == "<" else value > limit


def _in_duffy_range(item: Classified, thresholds: Thresholds) -> bool:
    """R8: ANC 1000 to below 1500 in a child over 1 year or an adult (the reference interval is not neonatal) -- a
    count measured: an upper bound (at most the WBC, R4) is never 1000 or more for certain."""
    return (
        item.limit.basis in (LlnBasis.STANDARD, LlnBasis.AGE_UNKNOWN)
        and item.anc.measured
        and not is_below(item.anc.value, item.anc.comparator, thresholds.duffy_range_from)
        and is_below(item.anc.value, item.anc.comparator, thresholds.duffy_range_below)
    )


def _finding_for(current: Classified, context: ClinicalContext, thresholds: Thresholds) -> Finding | None:
    if current.severity is Severity.NONE:
        return None
    if context.duffy is not DuffyStatus.UNKNOWN and _in_duffy_range(current, thresholds):
        return Finding.DUFFY_NULL_RANGE  # R8: documented Duffy-null, 1000-1499
    if current.severity is Severity.MILD and current.anc.measured and current.anc.value >= thresholds.general_lln:
        return Finding.LOW_FOR_AGE  # below the limit for this age, not below the general one (neonates, R5)
    return Finding.NEUTROPENIA


def _febrile_finding(current: Classified | None, previous: Classified | None, dose: ChemotherapyDose | None,
                     thresholds: Thresholds, chemotherapy_active: bool = False) -> Finding | None:
    """R7 with fever now: FN, possible FN, or moderate neutropenia with fever; None to fall back to R5/R6. `previous`:
    with no current ANC, the last one, however old (R7: "older than 7 days", no newer result); `dose`: one given or
    started 3-14 days ago (the chemotherapy proxy); `chemotherapy_active`: an antineoplastic order or statement still
    active whose doses no record dates -- one may have been given in that window.

    An ANC known only as an upper bound ("at most the WBC", R4; "<1200") rules FN in when it is below the limit, and
    never rules it out: a count under 500 stays possible whatever the bound -- as with no count at all (the safer
    reading), get an urgent CBC with differential."""
    def below(item: Classified, limit: Decimal) -> bool:
        return is_below(item.anc.value, item.anc.comparator, limit)

    def may_be_below(item: Classified, limit: Decimal) -> bool:
        return not item.anc.measured or below(item, limit)  # (an upper bound: any count under it)

    if current is not None:
        if below(current, thresholds.fn_anc_below) or (
            dose is not None and below(current, thresholds.fn_chemotherapy_anc_below)
        ):
            return Finding.FEBRILE_NEUTROPENIA
        if dose is not None and _before(current, dose):
            # the safer reading of the proxy: a count taken before the dose (normal, or it would not have been given)
            # says nothing of the nadir that follows it -- as with no count at all, get an urgent CBC
            return Finding.POSSIBLE_FEBRILE_NEUTROPENIA
        if may_be_below(current, thresholds.fn_anc_below):
            return Finding.POSSIBLE_FEBRILE_NEUTROPENIA  # an upper bound that leaves FN open
        if below(current, thresholds.fn_chemotherapy_anc_below):
            # below 1000 while an antineoplastic goes on at undated times: a dose may fall 3-14 days ago (the safer
            # reading: possible FN, as with no current count), else moderate neutropenia with fever
            return Finding.POSSIBLE_FEBRILE_NEUTROPENIA if chemotherapy_active else Finding.FEVER_WITH_NEUTROPENIA
        return None
    # No current ANC: an older one below 500 (R7) -- or that may be, an upper bound -- or, the safer reading of the
    # chemotherapy proxy, 3-14 days after chemotherapy, or while an antineoplastic is still ordered or taken, whatever
    # the last count was: get an urgent CBC.
    if dose is not None or chemotherapy_active or (
            previous is not None and may_be_below(previous, thresholds.fn_anc_below)):
        return Finding.POSSIBLE_FEBRILE_NEUTROPENIA
    return None


def _window_dose(context: ClinicalContext, count: Classified | None) -> ChemotherapyDose | None:
    """R7/R8: the dose of the 3-14 day window the count is read against -- of the doses given after the count (it
    cannot show their nadir), else of all in the window, the most recent. A bolus given days after the last CBC is
    that dose, even when a daily oral course goes on beside it."""
    in_window = [d for d in context.doses if d.in_window]
    after = [d for d in in_window if count is not None and _before(count, d)]
    return max(after or in_window, key=lambda d: d.last_at or d.at, default=None)


def _before(item: Classified, dose: ChemotherapyDose) -> bool:
    """Whether an ANC was taken before a dose (or at its moment): it cannot show what the dose did."""
    return item.anc.collected_at is not None and item.anc.collected_at <= dose.at


_COLLECTED_AT = attrgetter("anc.collected_at")


def _standing(dated: list[Classified], since: datetime | None = None) -> Classified | None:
    """R6: the latest ANC (collected since `since`; `dated` oldest first). When it is an upper bound (a WBC with no
    differential: at most the WBC, R4) and the last count measured since then lies under it in a more severe band,
    nothing shows the count has risen: that count stands (the safer reading; the trend shows both)."""
    window = [c for c in dated if since is None or (c.anc.collected_at is not None and c.anc.collected_at >= since)]
    if not window:
        return None
    latest = window[-1]
    bound = latest.anc
    if bound.measured:
        return latest
    measured = next((c for c in reversed(window) if c.anc.measured), None)
    if measured is None or (measured.severity, measured.profound) == (latest.severity, latest.profound):
        return latest
    under = measured.anc.value <= bound.value if bound.comparator == "<=" else measured.anc.value < bound.value
    return measured if under else latest


def _problem_order(problem: DataProblem) -> tuple[object, ...]:
    """Data problems oldest first (undated last), never in the order the record was sent in."""
    return (problem.collected_at is None, problem.collected_at or datetime.min.replace(tzinfo=UTC), problem.role,
            problem.loinc, problem.problem, problem.observation_id or "", problem.unit or "")


def assess(record: PatientRecord, now: datetime, knowledge: Knowledge) -> Assessment:
    """Everything R1-R6 and R10 decide about a record at `now` (timezone-aware)."""
    thresholds = knowledge.thresholds
    read = read_results(record, knowledge)
    birth_weight = _birth_weight(read.results)
    problems = list(read.problems)
    dated: list[Classified] = []
    undated: list[Classified] = []
    ages = age_scale(record.birth_date, record.birth_date_precision, birth_weight, thresholds, record.birth_time,
                     knowledge.zone)
    normal = Severity.NONE
    measurements, contradictions = anc_measurements(read.results, knowledge)
    problems.extend(contradictions)
    placed_until = now + timedelta(hours=thresholds.furthest_ahead_hours)  # R6: later, no clock explains the date
    for anc in measurements:
        placed_at = anc.collected_at if anc.collected_at and anc.collected_at <= placed_until else None
        limit = ages.limit_at(placed_at or now)
        item = classify(anc, limit, thresholds)
        if anc.source is AncSource.WBC_BOUND and item.severity is normal:
            continue  # R4.4: a WBC at or above the LLN with no differential says nothing about the ANC
        if anc.comparator in UPPER_BOUND_COMPARATORS and item.severity is normal:
            # "<2000" says nothing about how low the count is: a data problem, never "normal".
            problems.append(DataProblem(Problem.UPPER_BOUND_ABOVE_LIMIT, Role.ANC, "", None, anc.collected_at))
            continue
        (dated if placed_at is not None else undated).append(item)

    dated.sort(key=_COLLECTED_AT)
    undated_abnormal = tuple(sorted((c for c in undated if c.severity is not normal),
                                    key=lambda c: (c.anc.value, c.anc.observation_ids)))  # lowest first
    latest = dated[-1] if dated else None
    current_since = now - timedelta(days=thresholds.current_window_days)
    lookback_since = now - timedelta(days=thresholds.lookback_days)
    current = _standing(dated, current_since)

    readings = temperature_readings(read.results, knowledge)
    fever = detect_fever(readings, now, knowledge)
    context = clinical_context(record, now, knowledge)
    previous = _standing(dated) if current is None else None  # the last ANC, however old (R7)
    unplaced = undated_abnormal[0] if current is None and undated_abnormal else None  # (the lowest)
    if unplaced is not None and (previous is None or unplaced.anc.value < previous.anc.value):
        # R7's "older than 7 days (no newer result)", the safer reading: an ANC no time places may be that old or
        # newer than the last dated one -- the lower of the two is read as the last
        previous = unplaced
    dose = _window_dose(context, current or previous)
    if dose is not None and dose is not context.chemotherapy:
        context = msgspec.structs.replace(context, chemotherapy=dose)  # the dose the card speaks of
    stale = _standing(dated, lookback_since) if current is None else None  # ... within the look-back (R6)

    finding: Finding | None = None
    last_abnormal: Classified | None = None
    febrile_finding = (_febrile_finding(current, previous, dose, thresholds, context.active_antineoplastic is not None)
                       if fever else None)
    if febrile_finding is not None:
        finding, last_abnormal = febrile_finding, previous
    elif current is not None:
        finding = _finding_for(current, context, thresholds)
    elif stale is not None and stale.severity is not Severity.NONE:
        finding, last_abnormal = Finding.NO_CURRENT_ANC, stale  # R6
    elif undated_abnormal:
        finding = Finding.NO_CURRENT_ANC

    newest = latest.anc.collected_at if latest else None
    fever_since = now - timedelta(hours=thresholds.fever_window_hours)
    headline = current or last_abnormal
    # R5: term limits were used for want of a birth weight -- one that could not be read may be a very low one
    weight_wanted = headline is not None and headline.limit.birth_weight_missing
    # R1: a version of the ANC shown (its amendment, its withdrawal) that could not be read
    shown_ids = frozenset(headline.anc.observation_ids) if headline else frozenset()
    relevant = tuple(sorted(
        (p for p in problems
         if (p.collected_at is None and current is None)
         or (p.collected_at is not None and p.collected_at >= lookback_since
             and (newest is None or p.collected_at > newest))
         # one of the newest collection that may change its ANC (R4: of several of one kind, the lowest is used)
         or (latest is not None and p.collected_at == newest and may_change(latest.anc.source, p.role))
         or (p.observation_id is not None and p.observation_id in shown_ids)
         # R7 reads every temperature of its window, whatever the ANC's time: one there may be the fever
         or (p.role is Role.TEMPERATURE and p.collected_at is not None and p.collected_at >= fever_since)
         or (p.role is Role.BIRTH_WEIGHT and weight_wanted)),
        key=_problem_order))
    recent = current or stale  # the label's action reads a count of the look-back, never an older one (R7 may show it)
    clozapine = (clozapine_action(recent.anc.value, recent.anc.comparator, context.duffy, knowledge)
                 if context.clozapine_active and recent is not None and recent is headline else None)
    suggest_phenotyping = (
        finding is Finding.NEUTROPENIA and current is not None and fever is None
        and context.duffy is DuffyStatus.UNKNOWN and _in_duffy_range(current, thresholds)
        and context.chemotherapy is None and not MEDICATION_KINDS & set(record.unavailable)
    )
    return Assessment(
        now=now,
        finding=finding,
        current=current,
        last_abnormal=last_abnormal,
        undated_abnormal=undated_abnormal,
        trend=trend(dated, now, thresholds),
        data_problems=relevant,
        ignored_other_patient=read.other_patient + context.ignored_other_patient,
        general_lln=thresholds.general_lln,
        fever=fever,
        context=context,
        clozapine_action=clozapine,
        suggest_duffy_phenotyping=suggest_phenotyping,
        history=tuple(dated),
        temperatures=tuple(readings),
        anc_before_dose=dose is not None and headline is not None and _before(headline, dose),
    )
