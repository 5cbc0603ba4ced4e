"""R4: the absolute neutrophil count of each collection -- reported, segs + bands, computed, or bounded by the WBC."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal

from cds_service.clinical.model import (
    AncMeasurement,
    AncSource,
    DataProblem,
    LabResult,
    Note,
    Problem,
)
from cds_service.knowledge import Knowledge
from cds_service.knowledge.vocabulary import Role

_ANC_ROLES = frozenset(
    {Role.ANC, Role.SEGS, Role.BANDS, Role.WBC, Role.NEUT_PCT, Role.SEGS_PCT, Role.BANDS_PCT}
)


def may_change(source: AncSource, role: Role) -> bool:
    """R4: whether one more result of this role, were it read, may change the ANC a collection gave by this path --
    one of its path (of several of one kind, the lowest is used) or of a path R4 prefers to it."""
    if source is AncSource.REPORTED:
        return role is Role.ANC
    if source is AncSource.SEGS_BANDS:
        return role in (Role.ANC, Role.SEGS, Role.BANDS)
    return role in _ANC_ROLES


def collections(results: Iterable[LabResult]) -> list[list[LabResult]]:
    """Group results of one collection (R4.3): same DiagnosticReport, same panel (R1), same specimen, or same
    effective time.

    Results with none of these stand alone: nothing is combined across collections.
    """
    items = [r for r in results if r.role in _ANC_ROLES]
    parent = list(range(len(items)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first_with_key: dict[tuple[str, object], int] = {}
    joined = False
    for index, result in enumerate(items):
        # the same instant is one collection, whatever UTC offset it was written with
        keys: tuple[tuple[str, object], ...] = (
            ("report", result.report), ("panel", result.panel), ("specimen", result.specimen),
            ("time", result.collected_at))
        for kind, value in keys:
            if value is None:
                continue
            other = first_with_key.setdefault((kind, value), index)
            if other != index:
                parent[find(index)] = find(other)
                joined = True
    if not joined:  # every result a collection of its own
        return [[result] for result in items]
    groups: dict[int, list[LabResult]] = defaultdict(list)
    for index, result in enumerate(items):
        groups[find(index)].append(result)
    return list(groups.values())


def _bound(*parts: LabResult | None) -> str | None:
    """The comparator of a value built from parts: an upper bound if any part is one."""
    bound = None
    for part in parts:
        if part is not None:
            if part.comparator == "<":
                return "<"
            if part.comparator == "<=":
                bound = "<="
    return bound


def _lowest(result: LabResult) -> tuple[Decimal, bool, bool, str]:
    """Of several results of one kind in one collection, the lowest comes first (it gives the lowest ANC: alerts err
    on the safe side); of equal values an upper bound ("<300") before an exact one, a final result before a
    preliminary one, then by id: the order they were sent in never matters."""
    return result.value, result.comparator is None, result.preliminary, result.observation_id or ""


def _preferred(results: list[LabResult] | None, rank: Mapping[str, int]) -> LabResult | None:
    """The result of the code R2 prefers (33256-9 for WBC) when there is one; else the lowest of them all, whatever
    their codes: R2 ranks no other code of a role above another (R4's safer reading)."""
    if not results:
        return None
    if len(results) == 1:
        return results[0]
    return min(results, key=lambda r: (rank.get(r.loinc, len(rank)), *_lowest(r)))


def _above_wbc(count: LabResult, value: Decimal, wbc: LabResult | None, tolerance: Decimal) -> DataProblem | None:
    """R4.4 and R10: a neutrophil count measured above the WBC of its own collection (beyond R4's tolerance for
    results that disagree) cannot be right -- the ANC is at most the WBC -- and which of the two is wrong cannot be
    told: a data problem, never classified."""
    if wbc is None or count.comparator is not None or value <= wbc.value * (1 + tolerance):
        return None
    return DataProblem(Problem.ANC_ABOVE_WBC, Role.ANC, count.loinc, count.observation_id, count.collected_at)


def anc_of_collection(results: list[LabResult], knowledge: Knowledge) -> AncMeasurement | DataProblem | None:
    """R4, in order of preference: reported ANC; segs + bands counts; WBC x %; the WBC bound; else None. A reported
    upper bound is read with what the rest of the collection adds; a count above the collection's WBC is a data
    problem (R10)."""
    by_role: dict[Role, list[LabResult]] = defaultdict(list)
    for result in results:
        by_role[result.role].append(result)
    codes = knowledge.codes.rank_by_role
    mismatch = knowledge.thresholds.reported_computed_mismatch_fraction  # R4
    wbc = _preferred(by_role.get(Role.WBC), codes[Role.WBC])
    computed = _computed(by_role, wbc, knowledge)
    reported = by_role.get(Role.ANC)
    if not reported:
        return _unreported(by_role, wbc, computed, knowledge)

    # Several reported ANCs of one collection: the lowest (alerts err on the safe side), noted if they conflict.
    chosen = reported[0] if len(reported) == 1 else min(reported, key=_lowest)
    impossible = _above_wbc(chosen, chosen.value, wbc, mismatch)
    if impossible is not None:
        return impossible
    notes: list[Note] = []
    value, comparator = chosen.value, _bound(chosen)
    unreported = _unreported(by_role, wbc, computed, knowledge) if comparator is not None else None
    if isinstance(unreported, AncMeasurement) and unreported.value < value:
        # A reported upper bound ("<1000") and, of the same collection, a lower count or WBC: never read by the
        # looser bound. A count measured within it is the ANC; a WBC below it bounds the ANC lower (R4.4).
        if unreported.measured:
            return unreported
        if unreported.source is AncSource.WBC_BOUND:
            value, comparator = unreported.value, unreported.comparator
            notes.append(Note.BOUNDED_BY_WBC)
    if len(reported) > 1 and max(r.value for r in reported) - chosen.value > mismatch * chosen.value:
        notes.append(Note.CONFLICTING_REPORTED)
    differing = None
    if computed is not None and abs(computed.value - chosen.value) > mismatch * chosen.value:
        notes.append(Note.REPORTED_COMPUTED_MISMATCH)  # R4: use the reported one, note the mismatch
        differing = computed.value
    parts: list[LabResult | None] = [chosen, wbc] if Note.BOUNDED_BY_WBC in notes else [chosen]
    return _measurement(value, AncSource.REPORTED, parts, notes, comparator,
                        reference_low=chosen.reference_low, computed_value=differing)


def _computed(by_role: Mapping[Role, list[LabResult]], wbc: LabResult | None,
              knowledge: Knowledge) -> AncMeasurement | None:
    """R4.3: WBC x total neutrophil %, or WBC x (segmented % + band %), of one collection."""
    if wbc is None:
        return None
    codes = knowledge.codes.rank_by_role
    neut_pct = _preferred(by_role.get(Role.NEUT_PCT), codes[Role.NEUT_PCT])
    if neut_pct is not None:  # total neutrophil % already includes bands -- never add a band % to it
        return _measurement(wbc.value * neut_pct.value / 100, AncSource.COMPUTED, [wbc, neut_pct], [],
                            _bound(wbc, neut_pct))
    segs_pct = _preferred(by_role.get(Role.SEGS_PCT), codes[Role.SEGS_PCT])
    if segs_pct is None:
        return None
    bands_pct = _preferred(by_role.get(Role.BANDS_PCT), codes[Role.BANDS_PCT])
    band_value = bands_pct.value if bands_pct is not None else Decimal(0)
    return _measurement(wbc.value * (segs_pct.value + band_value) / 100, AncSource.COMPUTED,
                        [wbc, segs_pct, bands_pct], [] if bands_pct is not None else [Note.BANDS_NOT_REPORTED],
                        _bound(wbc, segs_pct, bands_pct))


def _unreported(by_role: Mapping[Role, list[LabResult]], wbc: LabResult | None, computed: AncMeasurement | None,
                knowledge: Knowledge) -> AncMeasurement | DataProblem | None:
    """R4.2-R4.4, the ANC of a collection without a reported one: segs + bands counts; WBC x %; the WBC bound."""
    codes = knowledge.codes.rank_by_role
    segs = _preferred(by_role.get(Role.SEGS), codes[Role.SEGS])
    if segs is not None:
        bands = _preferred(by_role.get(Role.BANDS), codes[Role.BANDS])
        value = segs.value + (bands.value if bands is not None else 0)
        if bands is None or bands.comparator is None:
            impossible = _above_wbc(segs, value, wbc, knowledge.thresholds.reported_computed_mismatch_fraction)
            if impossible is not None:
                return impossible
        notes = [] if bands is not None else [Note.BANDS_NOT_REPORTED]  # R4.2: can only under-count
        return _measurement(value, AncSource.SEGS_BANDS, [segs, bands], notes, _bound(segs, bands))
    if computed is not None:
        return computed
    if wbc is not None:
        # R4.4: the ANC cannot exceed the WBC (ANC <= WBC). Whether that says anything depends on the LLN for the
        # age at collection, which R5 knows: a bound at or above it is dropped there (assessment.assess).
        return _measurement(wbc.value, AncSource.WBC_BOUND, [wbc], [], _bound(wbc) or "<=")
    return None


def _measurement(
    value: Decimal,
    source: AncSource,
    parts: list[LabResult | None],
    notes: list[Note],
    comparator: str | None,
    reference_low: Decimal | None = None,
    computed_value: Decimal | None = None,
) -> AncMeasurement:
    collected_at: datetime | None = None  # the earliest of the parts'
    preliminary = False
    ids: list[str] = []
    for part in parts:
        if part is None:
            continue
        if part.collected_at is not None and (collected_at is None or part.collected_at < collected_at):
            collected_at = part.collected_at
        preliminary = preliminary or part.preliminary
        if part.observation_id:
            ids.append(part.observation_id)
    return AncMeasurement(
        value=value,
        comparator=comparator,
        source=source,
        collected_at=collected_at,
        preliminary=preliminary,
        notes=tuple(notes),
        observation_ids=tuple(ids),
        reference_low=reference_low,
        computed_value=computed_value,
    )


def anc_measurements(results: Iterable[LabResult], knowledge: Knowledge
                     ) -> tuple[list[AncMeasurement], list[DataProblem]]:
    """One ANC per collection that yields one (R4), and the collections whose counts contradict each other (R10)."""
    measurements, problems = [], []
    for group in collections(results):
        found = anc_of_collection(group, knowledge)
        if isinstance(found, DataProblem):
            problems.append(found)
        elif found is not None:
            measurements.append(found)
    return measurements, problems
