"""R9: order-entry checks -- each draft order against the current ANC and the context of R8."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from decimal import Decimal

from cds_service.clinical.drugs import identify, rectal
from cds_service.clinical.model import (
    Assessment,
    ClinicalContext,
    DataProblem,
    DraftOrder,
    DuffyStatus,
    Evidence,
    OrderFinding,
    OrderReason,
    OrderRisk,
    OrderRule,
)
from cds_service.clinical.severity import is_below
from cds_service.knowledge import Knowledge
from cds_service.knowledge.vocabulary import Measure

CRITICAL, WARNING = "critical", "warning"


def _anc_band(assessment: Assessment, rule: OrderRule, critical_below: Decimal,
              warning_below: Decimal) -> OrderFinding | None:
    """The row's finding for the current ANC: critical below one limit, warning below the other, else None -- but for
    an upper bound, which leaves it open whether the count is below the row's limit: a warning that it may be."""
    current = assessment.current
    if current is None:
        return None
    value, comparator = current.anc.value, current.anc.comparator
    if is_below(value, comparator, critical_below):
        return OrderFinding(rule, OrderReason.ANC_BELOW_CRITICAL, CRITICAL, critical_below)
    if is_below(value, comparator, warning_below):
        return OrderFinding(rule, OrderReason.ANC_BELOW_WARNING, WARNING, warning_below)
    return _may_be_below(assessment, rule, warning_below)


def _may_be_below(assessment: Assessment, rule: OrderRule, limit: Decimal) -> OrderFinding | None:
    """A current ANC known only as an upper bound (a WBC with no differential: at most the WBC, R4) that is not below
    the row's limit may still be a count below it: the safer reading of "ANC below" is a warning that asks for a CBC
    with differential, never silence."""
    current = assessment.current
    if current is None or current.anc.measured:
        return None
    return OrderFinding(rule, OrderReason.ANC_MAY_BE_BELOW, WARNING, limit)


def _last_band(assessment: Assessment, rule: OrderRule, critical_below: Decimal, warning_below: Decimal,
               lookback: timedelta) -> OrderFinding | None:
    """With no current ANC (R6), the row's finding for the last ANC of the look-back (or, with none, for an abnormal
    one no time places): a warning that asks for a count when it was below the row's limits and nothing newer says
    otherwise -- the safer reading of the row's "ANC below", which names no window (R7 reads an older ANC below 500
    alike, with a fever) -- or, for an upper bound that is not below them, a warning that it may have been. Else
    None."""
    if assessment.current is not None:
        return None
    last = assessment.last_abnormal
    if last is None or last.anc.collected_at is None or last.anc.collected_at < assessment.now - lookback:
        # none in the look-back: an abnormal ANC no time places (none, or past any clock error) may be recent (R6)
        last = assessment.undated_abnormal[0] if assessment.undated_abnormal else None
    if last is None:
        return None
    for limit in (critical_below, warning_below):
        if is_below(last.anc.value, last.anc.comparator, limit):
            return OrderFinding(rule, OrderReason.NO_CURRENT_ANC, WARNING, limit)
    if not last.anc.measured:  # an upper bound (at most the WBC, R4): it may have been below the limit
        return OrderFinding(rule, OrderReason.ANC_MAY_BE_BELOW, WARNING, warning_below)
    return None


def _band(assessment: Assessment, rule: OrderRule, critical_below: Decimal, warning_below: Decimal,
          lookback: timedelta) -> OrderFinding | None:
    """The row's finding: for the current ANC, else for the last one of the look-back."""
    return (_anc_band(assessment, rule, critical_below, warning_below) if assessment.current is not None
            else _last_band(assessment, rule, critical_below, warning_below, lookback))


def is_count(problem: DataProblem, knowledge: Knowledge) -> bool:
    """Whether a result that could not be read is a count -- an ANC, or a WBC or differential it is made of -- not a
    temperature or a birth weight."""
    return knowledge.codes.measure_by_role[problem.role] in (Measure.COUNT, Measure.PERCENT)


def _count_unreadable(assessment: Assessment, knowledge: Knowledge) -> bool:
    """Whether a count newer than the ANC the rows read, or of its collection where R4 may make it the count -- or
    any, with no current ANC -- could not be read (R10: the data problems R6 keeps): it may be below any row's limit."""
    return any(is_count(p, knowledge) for p in assessment.data_problems)


def _recent_chemotherapy(context: ClinicalContext, knowledge: Knowledge) -> bool:
    latest = context.latest_chemotherapy
    return latest is not None and latest.last_days_before <= knowledge.thresholds.live_vaccine_chemotherapy_days


def check_order(order: DraftOrder, assessment: Assessment, knowledge: Knowledge) -> OrderRisk | None:
    """Every R9 row the order meets, or None when it is safe to let it pass without a card."""
    thresholds, codes = knowledge.thresholds, knowledge.context
    if order.status in codes.statuses.draft_not_checked:
        return None  # R9: entered in error, cancelled, revoked or completed -- not checked
    context = assessment.context or ClinicalContext()
    findings: list[OrderFinding] = []
    drug: str | None = None
    identity = identify(order.concept, codes, drug_names=not order.service)
    evidence = dict(identity.ingredients)
    recognised_by: Evidence | None = None
    lookback = timedelta(days=thresholds.lookback_days)  # R6

    rows: list[OrderRule] = []  # the rows the order belongs to

    def asks_for_a_count() -> bool:  # (one row asking for a count is enough: the card asks once)
        return any(f.reason is OrderReason.NO_CURRENT_ANC for f in findings)

    if identity.live_vaccine_by is not None:
        drug, recognised_by = "live vaccine", identity.live_vaccine_by
        rows.append(OrderRule.LIVE_VACCINE)
        headline = assessment.headline
        if headline is not None:  # R9: a warning from 500 to below the LLN for the age at collection (R5)
            band = _band(assessment, OrderRule.LIVE_VACCINE, thresholds.live_vaccine_critical_below,
                         headline.limit.lln, lookback)
            if band is not None:
                findings.append(band)
        if _recent_chemotherapy(context, knowledge):
            findings.append(OrderFinding(OrderRule.LIVE_VACCINE, OrderReason.RECENT_CHEMOTHERAPY, CRITICAL))
        elif context.active_antineoplastic is not None:  # the safer reading: chemotherapy on days no record dates
            findings.append(OrderFinding(OrderRule.LIVE_VACCINE, OrderReason.ACTIVE_CHEMOTHERAPY, CRITICAL))

    if identity.antineoplastic is not None:
        drug, recognised_by = identity.antineoplastic, identity.antineoplastic_by
        rows.append(OrderRule.ANTINEOPLASTIC)
        band = _anc_band(assessment, OrderRule.ANTINEOPLASTIC, thresholds.antineoplastic_critical_below,
                         thresholds.antineoplastic_warning_below)
        if assessment.current is None:
            findings.append(OrderFinding(OrderRule.ANTINEOPLASTIC, OrderReason.NO_CURRENT_ANC, WARNING))
        elif band is not None:
            findings.append(band)

    if identity.has(codes.clozapine):
        drug, recognised_by = "clozapine", evidence[codes.clozapine]
        rows.append(OrderRule.CLOZAPINE)
        start = (thresholds.clozapine_start_duffy_null if context.duffy is not DuffyStatus.UNKNOWN
                 else thresholds.clozapine_start_general)
        band = _anc_band(assessment, OrderRule.CLOZAPINE, thresholds.clozapine_critical_below, start)
        if assessment.current is None:
            findings.append(OrderFinding(OrderRule.CLOZAPINE, OrderReason.NO_CURRENT_ANC, WARNING))
        elif band is not None:
            findings.append(band)

    # R9: a topical, ophthalmic or otic product does not count for the neutropenia-associated drug row
    associated = [] if identity.non_systemic else [key for key in evidence if key in codes.associated_drugs]
    if associated:
        rows.append(OrderRule.ASSOCIATED_DRUG)
        if drug is None:
            drug, recognised_by = codes.associated_drugs[associated[0]], evidence[associated[0]]
        band = _band(assessment, OrderRule.ASSOCIATED_DRUG, thresholds.associated_critical_below,
                     thresholds.associated_warning_below, lookback)
        if band is not None and not (band.reason is OrderReason.NO_CURRENT_ANC and asks_for_a_count()):
            findings.append(band)

    if rectal(order.concept, codes):
        rows.append(OrderRule.RECTAL_ROUTE)
        limit, current = thresholds.rectal_warning_below, assessment.current
        if current is not None and is_below(current.anc.value, current.anc.comparator, limit):
            findings.append(OrderFinding(OrderRule.RECTAL_ROUTE, OrderReason.ANC_BELOW_CRITICAL, WARNING, limit))
        elif (open_bound := _may_be_below(assessment, OrderRule.RECTAL_ROUTE, limit)) is not None:
            findings.append(open_bound)
        elif (last := _last_band(assessment, OrderRule.RECTAL_ROUTE, limit, limit, lookback)) and not (
                asks_for_a_count()):
            findings.append(last)
    if rows and not findings and _count_unreadable(assessment, knowledge):
        # R10 with R9, the safer reading: a count that could not be read may be below the row's limit -- a warning
        # that says so, never an order let pass in silence on an older count, or on none
        findings.append(OrderFinding(rows[0], OrderReason.ANC_UNREADABLE, WARNING))
    return OrderRisk(order, tuple(findings), drug, recognised_by) if findings else None


def cbc_drafted(drafts: Iterable[DraftOrder], knowledge: Knowledge) -> bool:
    """R9: whether a CBC with differential is among the draft orders (one that will be checked: not cancelled or in
    error) -- by its LOINC code or its name -- so that no card suggests a second one."""
    context = knowledge.context
    for draft in drafts:
        if not draft.service or draft.status in context.statuses.draft_not_checked:
            continue
        concept = draft.concept
        if any(c.system == knowledge.codes.system and c.code in context.cbc_differential_codes
               for c in concept.codings) or any(
                context.cbc_names.found_in(name) and context.differential_names.found_in(name)
                for name in concept.names):
            return True
    return False


def check_orders(orders: list[DraftOrder], assessment: Assessment, knowledge: Knowledge) -> list[OrderRisk]:
    """One OrderRisk per draft order that meets any R9 row, in the order given."""
    risks = (check_order(order, assessment, knowledge) for order in orders)
    return [risk for risk in risks if risk is not None]
