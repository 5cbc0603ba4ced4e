"""R8: the context that changes the message -- chemotherapy, clozapine, Duffy-null status, causes in the record."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import TypeVar

import msgspec

from cds_service.clinical.labs import is_patient_reference
from cds_service.clinical.model import (
    ChemotherapyDose,
    ClinicalContext,
    ClozapineAction,
    CodedObservationFacts,
    Coding,
    ComponentFacts,
    ConditionFacts,
    DuffyStatus,
    Evidence,
    MedicationFacts,
    PatientRecord,
    ProcedureFacts,
)
from cds_service.clinical.severity import is_below
from cds_service.knowledge import ContextKnowledge, Knowledge

_Entry = TypeVar("_Entry", MedicationFacts, ProcedureFacts, ConditionFacts)


def chemotherapy_doses(record: PatientRecord, now: datetime, knowledge: Knowledge) -> list[ChemotherapyDose]:
    """R8: every antineoplastic given or started, and every chemotherapy procedure, up to today. A course given over
    a period was given on every day of it: it is in the 3-14 day window if it ran at any time then (R7). An active
    order or statement that no date places is given today, from a start not recorded (last of all)."""
    context = knowledge.context
    doses: list[tuple[str, datetime, datetime | None, bool, Evidence]] = []  # (agent, start, last day, ongoing, how)
    undated: list[ChemotherapyDose] = []
    for medication in record.medications:
        identity = medication.identity  # R8 by the drug-identity rules of R9
        if medication.status not in context.statuses.given[medication.kind] or identity.antineoplastic is None:
            continue
        how = identity.antineoplastic_by or Evidence.CODE
        if medication.started_at is None:
            if medication.status in context.statuses.active.get(medication.kind, frozenset()):
                # taken now (an active order or statement), since a day no record gives: never guessed into the
                # 3-14 day window (R7), within any number of days before now (R9)
                undated.append(ChemotherapyDose(identity.antineoplastic, now, 0, 0, False, how, now, True,
                                                start_recorded=False))
            continue
        last, ongoing = _last_given(medication, now, context)
        doses.append((identity.antineoplastic, medication.started_at, last, ongoing, how))
    for procedure in record.procedures:
        if procedure.status in context.statuses.procedure_done and procedure.performed_at is not None and any(
            c.system == context.snomed and c.code in context.chemo_procedure_codes for c in procedure.codings
        ):
            last, ongoing = _last_given(procedure, now, context)
            doses.append(("chemotherapy procedure", procedure.performed_at, last, ongoing, Evidence.CODE))
    found = []
    zone = knowledge.zone
    today = now.astimezone(zone).date()
    for name, at, last, ongoing, how in doses:
        days = (today - at.astimezone(zone).date()).days  # calendar days before today, in the site's time zone
        if days < 0:
            continue  # planned, not yet given
        last_days = (today - last.astimezone(zone).date()).days if last is not None else days
        in_window = days >= context.chemo_window_from_days and last_days <= context.chemo_window_to_days
        found.append(ChemotherapyDose(name, at, days, last_days, in_window, how, last, ongoing))
    return found + undated


def _last_given(given: MedicationFacts | ProcedureFacts, now: datetime,
                context: ContextKnowledge) -> tuple[datetime | None, bool]:
    """A course's last day given, and whether it goes on: its end (none later than now); with no end, now while it
    is active (R8 "active" statuses), else only its start is known. (None, False) for a dose given at one moment."""
    start = given.started_at if isinstance(given, MedicationFacts) else given.performed_at
    kind = str(given.kind) if isinstance(given, MedicationFacts) else "Procedure"
    going_on = given.status in context.statuses.active.get(kind, frozenset())
    if not given.course or start is None:
        return None, False
    if given.ended_at is not None:
        return max(start, min(given.ended_at, now)), given.ended_at > now and going_on
    return (max(start, now), True) if going_on else (None, False)


def _clozapine_active(medications: Iterable[MedicationFacts], context: ContextKnowledge) -> bool:
    return any(
        m.status in context.statuses.active.get(m.kind, frozenset())
        and m.identity.has(context.clozapine)
        for m in medications
    )


def _active_antineoplastic(medications: Iterable[MedicationFacts], now: datetime,
                           context: ContextKnowledge) -> str | None:
    """R7/R9: an antineoplastic ordered or taken, still active, whose doses up to now the record does not date -- no
    date at all, an order that says nothing of its doses after its date (more may have followed while it is active),
    or one to start later: chemotherapy now or soon, on days no record gives (the first by name, for a card that
    never depends on the order of the record). A course dated to now is not one, nor an order of one dose: the R7
    window reads them, and R9 their last day."""
    return min((m.identity.antineoplastic for m in medications
                if m.identity.antineoplastic is not None
                and m.status in context.statuses.active.get(m.kind, frozenset())
                and (m.started_at is None or m.later_doses_unknown or m.started_at > now)), default=None)


def _has(codings: Iterable[Coding], code: str) -> bool:
    return any(c.code == code for c in codings)


def _component(observation: CodedObservationFacts, code: str) -> ComponentFacts | None:
    return next((c for c in observation.components if _has(c.codings, code)), None)


def _component_is(component: ComponentFacts | None, value: str) -> bool:
    if component is None:
        return False
    return _has(component.value_codings, value) or (component.value_text or "").strip() == value


def _is_negative(observation: CodedObservationFacts, knowledge: Knowledge) -> bool:
    return any(c.code in knowledge.context.duffy.negative_codes for c in observation.value_codings)


def duffy_status(record: PatientRecord, knowledge: Knowledge) -> DuffyStatus:
    """R8: documented Duffy-null status in one of three forms -- never inferred from race or ethnicity."""
    duffy = knowledge.context.duffy
    usable = [o for o in record.coded_observations  # R1: usable statuses, this patient only
              if o.status in knowledge.thresholds.usable_statuses
              and is_patient_reference(o.subject, record.patient_id)]
    for obs in usable:
        # (a) genotype: variant present, ACKR1 and/or rs2814778, homozygous
        if (
            _has(obs.codings, duffy.genotype_code)
            and _has(obs.value_codings, duffy.variant_present)
            and (_component_is(_component(obs, duffy.gene_component), duffy.gene)
                 or _component_is(_component(obs, duffy.dbsnp_component), duffy.dbsnp))
            and _component_is(_component(obs, duffy.allelic_state_component), duffy.homozygous)
        ):
            return DuffyStatus.GENOTYPE
    # (b) Fy(a) and Fy(b) both negative on one specimen (same specimen, or the same collection time)
    negatives: dict[str, set[str]] = {}
    for obs in usable:
        for code in (duffy.fya_code, duffy.fyb_code):
            if _has(obs.codings, code) and _is_negative(obs, knowledge):
                key = obs.specimen or (obs.effective.isoformat() if obs.effective else None)
                if key is not None:
                    negatives.setdefault(key, set()).add(code)
    if any(found == {duffy.fya_code, duffy.fyb_code} for found in negatives.values()):
        return DuffyStatus.RED_CELL_ANTIGENS
    # (c) the site's value set, on an Observation's code or value, or a Condition's code
    def in_site_set(codings: Iterable[Coding]) -> bool:
        return any((c.system, c.code) in duffy.site_codes for c in codings)
    if any(in_site_set(o.codings) or in_site_set(o.value_codings) for o in usable) or any(
        in_site_set(c.codings) for c in record.conditions
        if c.verification_status not in knowledge.context.statuses.condition_void
    ):
        return DuffyStatus.SITE_CODE
    return DuffyStatus.UNKNOWN


def _condition_causes(conditions: Iterable[ConditionFacts], context: ContextKnowledge) -> list[str]:
    found: list[str] = []
    for condition in conditions:
        if (condition.clinical_status not in context.statuses.condition_active
                or condition.verification_status in context.statuses.condition_void):
            continue
        found.extend(name for c in condition.codings if (name := context.cause_named(c.system, c.code)))
    return found


def causes_in_record(record: PatientRecord, context: ContextKnowledge) -> tuple[str, ...]:
    """R8: active drugs on the neutropenia-associated list, then conditions among the causes -- names, each in
    alphabetical order (never the order the record was sent in)."""
    drugs = []
    for m in record.medications:
        if m.status in context.statuses.active.get(m.kind, frozenset()):  # an order, or a drug the patient takes
            identity = m.identity
            if not identity.non_systemic:  # R9: topical, ophthalmic and otic products do not count
                drugs += [context.associated_drugs[key] for key, _ in identity.ingredients
                          if key in context.associated_drugs]
    return tuple(dict.fromkeys([*sorted(drugs), *sorted(_condition_causes(record.conditions, context))]))


def _this_patients(record: PatientRecord) -> tuple[PatientRecord, int]:
    """R1's data-integrity rule for every entry R8 reads: a medication, procedure or condition filed for another
    patient is ignored, and counted."""
    def mine(entries: tuple[_Entry, ...]) -> tuple[_Entry, ...]:
        return tuple(e for e in entries if is_patient_reference(e.subject, record.patient_id))

    medications, procedures, conditions = mine(record.medications), mine(record.procedures), mine(record.conditions)
    ignored = (len(record.medications) - len(medications) + len(record.procedures) - len(procedures)
               + len(record.conditions) - len(conditions))
    return msgspec.structs.replace(record, medications=medications, procedures=procedures,
                                   conditions=conditions), ignored


def clinical_context(record: PatientRecord, now: datetime, knowledge: Knowledge) -> ClinicalContext:
    record, ignored = _this_patients(record)
    if not (record.medications or record.procedures or record.conditions or record.coded_observations):
        # nothing that R8 reads: nothing found (the usual record of a patient on no listed drug)
        return ClinicalContext(chemotherapy=None, latest_chemotherapy=None, clozapine_active=False,
                               duffy=DuffyStatus.UNKNOWN, causes=(), unavailable=record.unavailable,
                               partial=record.partial, ignored_other_patient=ignored)
    # by time, and of doses at one moment (a regimen's drugs are often given together) by agent, the strongest
    # evidence first: never by the order they were sent in
    doses = sorted(chemotherapy_doses(record, now, knowledge),
                   key=lambda d: (d.at, d.agent, d.recognised_by.rank, d.last_at or d.at, d.ongoing))
    return ClinicalContext(
        # the dose the card speaks of: one in the 3-14 day window first, then the most recent (max: the first found)
        chemotherapy=max(doses, key=lambda d: (d.in_window, d.last_at or d.at)) if doses else None,
        latest_chemotherapy=max(doses, key=lambda d: d.last_at or d.at) if doses else None,
        clozapine_active=_clozapine_active(record.medications, knowledge.context),
        active_antineoplastic=_active_antineoplastic(record.medications, now, knowledge.context),
        duffy=duffy_status(record, knowledge),
        causes=causes_in_record(record, knowledge.context),
        doses=tuple(doses),
        unavailable=record.unavailable,
        partial=record.partial,
        ignored_other_patient=ignored,
    )


def clozapine_action(value: Decimal, comparator: str | None, duffy: DuffyStatus,
                     knowledge: Knowledge) -> ClozapineAction:
    """R8: the clozapine label's action for this ANC, from the general or the Duffy-null (BEN) table. An upper bound
    (`comparator`: a WBC with no differential, R4) chooses a row only when it is below the last row's limit; else
    the count, and so the row, may be lower: the ANC is to be measured first (the safer reading)."""
    action = _clozapine_row(value, comparator, duffy, knowledge)
    if comparator is not None and action not in (ClozapineAction.INTERRUPT, ClozapineAction.INTERRUPT_NO_RECHALLENGE):
        return ClozapineAction.MEASURE_ANC
    return action


def _clozapine_row(value: Decimal, comparator: str | None, duffy: DuffyStatus,
                   knowledge: Knowledge) -> ClozapineAction:
    bands = knowledge.thresholds
    if duffy is not DuffyStatus.UNKNOWN:
        if not is_below(value, comparator, bands.clozapine_duffy_null_normal_from):
            return ClozapineAction.CONTINUE
        if not is_below(value, comparator, bands.clozapine_duffy_null_moderate_from):
            return ClozapineAction.CONSULT_CONTINUE_THREE_TIMES_WEEKLY
        return ClozapineAction.INTERRUPT
    if not is_below(value, comparator, bands.clozapine_general_normal_from):
        return ClozapineAction.CONTINUE
    if not is_below(value, comparator, bands.clozapine_general_mild_from):
        return ClozapineAction.CONTINUE_THREE_TIMES_WEEKLY
    if not is_below(value, comparator, bands.clozapine_general_moderate_from):
        return ClozapineAction.INTERRUPT_CONSULT_DAILY
    return ClozapineAction.INTERRUPT_NO_RECHALLENGE
