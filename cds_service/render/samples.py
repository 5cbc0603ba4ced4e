"""Sample assessments, worst cases included, that every card template must render cleanly (checked at start)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from cds_service.clinical.model import (
    AgeLimit,
    AncMeasurement,
    AncSource,
    Assessment,
    ChemotherapyDose,
    Classified,
    ClinicalContext,
    ClozapineAction,
    DataKind,
    DataProblem,
    DraftOrder,
    DuffyStatus,
    Evidence,
    Fever,
    FeverRule,
    Finding,
    MedicationConcept,
    Note,
    OrderFinding,
    OrderReason,
    OrderRisk,
    OrderRule,
    Problem,
    TemperatureReading,
    Trend,
    TrendSummary,
)
from cds_service.knowledge.vocabulary import LlnBasis, Role, Severity
from cds_service.render.cards import CardRenderer, CardTemplateError, check_rendered

# Every finding the service can produce needs a template.
FINDINGS_RENDERED = tuple(Finding)

_NOW = datetime(2026, 1, 2, 8, 0, tzinfo=UTC)  # early January: dates of last year print with their year


def _classified(value: str, severity: Severity, basis: LlnBasis, *, days_ago: int | None = 1,
                source: AncSource = AncSource.REPORTED, comparator: str | None = None) -> Classified:
    anc = AncMeasurement(
        value=Decimal(value),
        comparator=comparator,
        source=source,
        collected_at=None if days_ago is None else _NOW - timedelta(days=days_ago, hours=3),
        preliminary=True,
        notes=tuple(Note),
        observation_ids=("sample",),
        computed_value=Decimal("1234.5"),
    )
    limit = AgeLimit(Decimal(1800 if basis is LlnBasis.NEONATE_UNDER_72H else 1500), basis, 1,
                     birth_weight_missing=True)
    return Classified(anc, limit, severity, profound=Decimal(value) < 100, ctcae_grade=None)


def sample_assessments() -> list[tuple[str, Assessment]]:
    """(name, assessment) pairs covering every finding, source, basis and data problem."""
    samples: list[tuple[str, Assessment]] = []
    trend_points = tuple(_classified(v, Severity.MODERATE, LlnBasis.STANDARD, days_ago=d)
                         for v, d in (("1444", 20), ("999", 10), ("99", 1)))
    for source in AncSource:
        for basis in LlnBasis:
            for value, severity in (("99", Severity.SEVERE), ("999", Severity.MODERATE), ("1499", Severity.MILD)):
                current = _classified(value, severity, basis, source=source, comparator="<")
                samples.append((f"neutropenia {severity} {source} {basis}", Assessment(
                    now=_NOW, finding=Finding.NEUTROPENIA, current=current,
                    trend=TrendSummary(trend_points, Trend.RECOVERING), ignored_other_patient=2)))
    for direction in Trend:  # every direction's wording ("direction unknown": an upper bound leaves it open)
        samples.append((f"trend {direction}", Assessment(
            now=_NOW, finding=Finding.NEUTROPENIA, current=trend_points[-1],
            trend=TrendSummary(trend_points, direction))))
    fevers = [Fever(FeverRule.SINGLE, (TemperatureReading(Decimal("41.95"), _NOW, "urinary bladder"),)),
              Fever(FeverRule.SUSTAINED, tuple(TemperatureReading(Decimal("38.05"), _NOW - timedelta(minutes=m),
                                                                  "temporal artery") for m in (90, 60, 30, 0)))]
    contexts = [
        ClinicalContext(),
        ClinicalContext(
            chemotherapy=ChemotherapyDose("sulfamethoxazole / trimethoprim", _NOW - timedelta(days=9), 9, 9, True),
            clozapine_active=True, duffy=DuffyStatus.RED_CELL_ANTIGENS,
            causes=tuple(f"condition number {i}" for i in range(8)),
            unavailable=tuple(DataKind), partial=tuple(DataKind)),
        ClinicalContext(  # a course given over a period, ongoing and ended
            chemotherapy=ChemotherapyDose("capecitabine", _NOW - timedelta(days=60), 60, 0, True, Evidence.NAME,
                                          _NOW, True)),
        ClinicalContext(  # a course given now, since a day no record gives
            chemotherapy=ChemotherapyDose("capecitabine", _NOW, 0, 0, False, Evidence.NAME, _NOW, True,
                                          start_recorded=False),
            active_antineoplastic="An antineoplastic name far longer than any line can carry " * 2),
        ClinicalContext(
            chemotherapy=ChemotherapyDose("capecitabine", _NOW - timedelta(days=60), 60, 10, True, Evidence.NAME,
                                          _NOW - timedelta(days=10), False),
            clozapine_active=True, duffy=DuffyStatus.RED_CELL_ANTIGENS,
            causes=tuple(f"condition number {i}" for i in range(8)),
            unavailable=tuple(DataKind), partial=tuple(DataKind)),
    ]
    for finding in (Finding.FEBRILE_NEUTROPENIA, Finding.FEVER_WITH_NEUTROPENIA, Finding.POSSIBLE_FEBRILE_NEUTROPENIA,
                    Finding.NEUTROPENIA, Finding.DUFFY_NULL_RANGE, Finding.LOW_FOR_AGE):
        for fever in fevers:
            for context in contexts:
                for action in ClozapineAction:
                    for severity, value in ((Severity.SEVERE, "99"), (Severity.MODERATE, "999")):
                        anc = _classified(value, severity, LlnBasis.STANDARD, comparator="<=")
                        samples.append((f"{finding} {fever.rule} {action} {severity}", Assessment(
                            now=_NOW, finding=finding, current=anc, fever=fever, context=context,
                            clozapine_action=action, suggest_duffy_phenotyping=True)))
                samples.append((f"{finding} {fever.rule} no ANC", Assessment(
                    now=_NOW, finding=Finding.POSSIBLE_FEBRILE_NEUTROPENIA, fever=fever, context=context)))
                if context.chemotherapy is not None and context.chemotherapy.in_window:
                    samples.append((f"{finding} {fever.rule} an ANC from before the dose", Assessment(
                        now=_NOW, finding=Finding.POSSIBLE_FEBRILE_NEUTROPENIA, fever=fever, context=context,
                        current=_classified("2500", Severity.NONE, LlnBasis.STANDARD, days_ago=10),
                        anc_before_dose=True)))
    samples.append(("low-for-age", Assessment(
        now=_NOW, finding=Finding.LOW_FOR_AGE,
        current=_classified("1799", Severity.MILD, LlnBasis.NEONATE_UNDER_72H, days_ago=0))))
    samples.append(("no-current-anc dated", Assessment(
        now=_NOW, finding=Finding.NO_CURRENT_ANC,
        last_abnormal=_classified("99", Severity.SEVERE, LlnBasis.STANDARD, days_ago=80),
        trend=TrendSummary(trend_points, Trend.FALLING))))
    samples.append(("no-current-anc undated", Assessment(
        now=_NOW, finding=Finding.NO_CURRENT_ANC,
        undated_abnormal=(_classified("99", Severity.SEVERE, LlnBasis.AGE_UNKNOWN, days_ago=None),))))
    samples.append(("no-current-anc dated in the future", Assessment(
        now=_NOW, finding=Finding.NO_CURRENT_ANC,
        undated_abnormal=(_classified("99", Severity.SEVERE, LlnBasis.AGE_UNKNOWN, days_ago=-365 * 36),))))
    for problem in Problem:
        for role in Role:
            data = DataProblem(problem, role, "26464-8", "x", _NOW - timedelta(days=40),
                               unit="x" * 60 if problem in (Problem.UNRECOGNISED_UNIT,
                                                            Problem.NOT_A_BODY_TEMPERATURE) else None,
                               sent="<" + "x" * 60 if problem in (Problem.NOT_A_QUANTITY, Problem.UNREADABLE,
                                                                 Problem.UNKNOWN_STATUS,
                                                                 Problem.NOT_A_BODY_TEMPERATURE) else None)
            samples.append((f"data-problem {problem} {role}", Assessment(
                now=_NOW, finding=None, data_problems=(data, data))))
    return samples


def sample_order_risks() -> list[tuple[str, list[OrderRisk], Assessment]]:
    """Every R9 row and reason, on a long order name, with and without a current ANC."""
    order = DraftOrder("MedicationRequest/" + "x" * 64, "An order name far longer than any summary can carry " * 3,
                       MedicationConcept())
    every = tuple(
        OrderFinding(rule, reason, indicator, Decimal(1500))
        for rule in OrderRule for reason in OrderReason for indicator in ("critical", "warning")
    )
    context = ClinicalContext(
        chemotherapy=ChemotherapyDose("cyclophosphamide", _NOW - timedelta(days=30), 30, 30, False, Evidence.NAME),
        latest_chemotherapy=ChemotherapyDose("cyclophosphamide", _NOW - timedelta(days=30), 30, 30, False),
        active_antineoplastic="An antineoplastic name far longer than any line can carry " * 2,
        duffy=DuffyStatus.GENOTYPE)
    samples = []
    for current in (_classified("99", Severity.SEVERE, LlnBasis.STANDARD, comparator="<="), None):
        assessment = Assessment(now=_NOW, finding=None, current=current, context=context)
        for finding in every:
            samples.append((f"order-risk {finding.rule} {finding.reason}", [OrderRisk(order, (finding,), "clozapine")],
                            assessment))
        for how in Evidence:  # the card says how the drug was recognised (R9)
            samples.append((f"order-risk recognised by {how}", [OrderRisk(order, every[:1], "clozapine", how)],
                            assessment))
        samples.append(("order-risk every row", [OrderRisk(order, every, None)], assessment))
    return samples


SAMPLE_BASE_URL = "https://cds.example.org"  # where the samples say the service is reached


def template_problems(renderer: CardRenderer) -> list[str]:
    """Every problem found by rendering every sample with the renderer's templates."""
    problems: list[str] = []
    renderer = CardRenderer(renderer.templates, renderer.knowledge, truncate=False)
    for name, assessment in sample_assessments():
        try:
            cards = renderer.cards(assessment, SAMPLE_BASE_URL)
        except Exception as exc:  # a template error of any kind is reported, not raised
            problems.append(f"{name}: {type(exc).__name__}: {exc}")
            continue
        for card in cards:
            template = renderer.templates[card["extension"]["neutropenia-cds"]["finding"]]
            problems.extend(check_rendered(card, f"{template.path.name} ({name})"))
    for name, risks, assessment in sample_order_risks():
        try:
            for cbc_drafted in (False, True):  # (a CBC among the drafts: no CBC suggested, a line said instead)
                for card in renderer.order_cards(risks, assessment, "sample-patient", SAMPLE_BASE_URL, cbc_drafted):
                    problems.extend(check_rendered(card, f"order-risk.toml ({name})"))
        except Exception as exc:
            problems.append(f"{name}: {type(exc).__name__}: {exc}")
    return problems


def check_templates(renderer: CardRenderer) -> None:
    """Raise CardTemplateError listing every problem, so a broken template stops the service at start."""
    problems = template_problems(renderer)
    if problems:
        shown = "\n  ".join(problems[:20])
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise CardTemplateError(f"card templates failed their check:\n  {shown}{more}")
