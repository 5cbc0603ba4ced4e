"""The CDS services, each declared once: discovery, prefetch and the call are all generated from these."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cds_service.clinical.assessment import assess
from cds_service.clinical.drugs import identify
from cds_service.clinical.model import Assessment, DataKind
from cds_service.clinical.orders import cbc_drafted, check_orders
from cds_service.fhir.client import FhirClient
from cds_service.fhir.hook_request import HookRequest
from cds_service.fhir.prefetch import PATIENT_KEY, PatientData, PrefetchTemplate, resolve
from cds_service.fhir.records import Window, build_record
from cds_service.knowledge import Knowledge
from cds_service.knowledge.vocabulary import Role
from cds_service.observability import noticed
from cds_service.render.cards import CardRenderer
from cds_service.terminology import TerminologyService, with_terminology

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServiceDependencies:
    """What a service call needs besides the request: knowledge, card templates, the clock, the FHIR client."""

    knowledge: Knowledge
    renderer: CardRenderer
    clock: Callable[[], datetime]
    fhir: FhirClient | None = None
    fhir_lookback_days: int = 365
    terminology: TerminologyService | None = None
    base_url: str = "http://127.0.0.1:8080"  # where this service is reached: public_base_url, else the request's host


Handler = Callable[[HookRequest, PatientData, ServiceDependencies], list[dict[str, Any]]]


@dataclass(frozen=True)
class CdsService:
    """One CDS service: discovery entry, required context, prefetch, and the function that answers it."""

    id: str
    hook: str
    title: str
    description: str
    required_context: tuple[str, ...]
    prefetch: tuple[PrefetchTemplate, ...]
    handler: Handler
    drafts: str | None = None  # order hooks: which draft orders are checked, "selected" or "all"

    def discovery(self) -> dict[str, Any]:
        """The service's entry in GET /cds-services (CDS Hooks 2.0 'Discovery')."""
        return {
            "id": self.id,
            "hook": self.hook,
            "title": self.title,
            "description": self.description,
            "prefetch": {t.key: t.query for t in self.prefetch},
        }


def _codes_query(knowledge: Knowledge, roles: tuple[Role, ...], panels: bool = False) -> str:
    """The LOINC codes of these roles (R2) -- and of the CBC/differential panels that date them (R1) -- for a search."""
    system = knowledge.codes.system
    codes = [code for role in roles for code in knowledge.codes.codes_by_role[role]]
    codes += sorted(knowledge.codes.panels) if panels else []
    return ",".join(f"{system}|{code}" for code in codes)


LAB_ROLES = (Role.ANC, Role.SEGS, Role.BANDS, Role.WBC, Role.NEUT_PCT, Role.SEGS_PCT, Role.BANDS_PCT)
VITAL_ROLES = (Role.TEMPERATURE, Role.BIRTH_WEIGHT)


def patient_prefetch(knowledge: Knowledge) -> tuple[PrefetchTemplate, ...]:
    """Prefetch of every service: the patient, R2 labs and vitals, lab reports (R1), and the R8 context."""
    patient = "{{context.patientId}}"
    duffy = knowledge.context.duffy
    duffy_codes = ",".join(f"{knowledge.codes.system}|{c}" for c in (duffy.genotype_code, duffy.fya_code,
                                                                      duffy.fyb_code))
    return (
        PrefetchTemplate(PATIENT_KEY, f"Patient/{patient}", required=True),
        PrefetchTemplate(
            "labs",
            f"Observation?patient={patient}&code={_codes_query(knowledge, LAB_ROLES, panels=True)}&_sort=-date"
            "&_count=500",
            # not bounded by date: R1 dates a result without effective[x] by its report; the page bound limits it
            required=True, describes=DataKind.LABS,
        ),
        PrefetchTemplate(
            "vitals",
            f"Observation?patient={patient}&code={_codes_query(knowledge, VITAL_ROLES)}&_sort=-date&_count=200",
            required=False, describes=DataKind.VITALS, dated=True,
        ),
        PrefetchTemplate(
            "labReports",
            f"DiagnosticReport?patient={patient}&category=http://terminology.hl7.org/CodeSystem/v2-0074|LAB"
            "&_sort=-date&_count=200",
            required=False, describes=DataKind.LAB_REPORTS, dated=True,
        ),
        PrefetchTemplate(
            "medicationRequests",
            f"MedicationRequest?patient={patient}&_include=MedicationRequest:medication&_sort=-authoredon&_count=200",
            required=False, describes=DataKind.MEDICATION_ORDERS,
        ),
        PrefetchTemplate(
            "medicationAdministrations",
            f"MedicationAdministration?patient={patient}&_include=MedicationAdministration:medication"
            "&_sort=-effective-time&_count=200",
            required=False, describes=DataKind.MEDICATION_ADMINISTRATIONS,
        ),
        PrefetchTemplate(
            "medicationStatements",
            f"MedicationStatement?patient={patient}&_include=MedicationStatement:medication&_sort=-effective"
            "&_count=200",
            required=False, describes=DataKind.MEDICATION_STATEMENTS,
        ),
        PrefetchTemplate(
            "procedures",
            f"Procedure?patient={patient}&code={knowledge.context.snomed}|"
            + f",{knowledge.context.snomed}|".join(sorted(knowledge.context.chemo_procedure_codes)),
            required=False, describes=DataKind.PROCEDURES,
        ),
        PrefetchTemplate("conditions", f"Condition?patient={patient}&_count=200", required=False,
                         describes=DataKind.CONDITIONS),
        PrefetchTemplate("duffy", f"Observation?patient={patient}&code={duffy_codes}", required=False,
                         describes=DataKind.DUFFY_RESULTS),
    )


def patient_data(request: HookRequest, service: CdsService, deps: ServiceDependencies) -> PatientData:
    """The patient's data for this call: prefetch as sent, else fetched from fhirServer; 412 if required data is
    missing."""
    since = (deps.clock() - timedelta(days=deps.fhir_lookback_days)).date()
    return resolve(request, service.prefetch, deps.fhir, since)


def assess_patient(request: HookRequest, data: PatientData, deps: ServiceDependencies) -> Assessment:
    """PatientData -> PatientRecord -> Assessment, at the deps's clock."""
    now = deps.clock()
    thresholds = deps.knowledge.thresholds
    window = Window(  # older results change no answer (R6 look-back, R7 fever window); a day's margin for clocks
        results_since=now - timedelta(days=thresholds.lookback_days + 1),
        temperatures_since=now - timedelta(hours=thresholds.fever_window_hours + 24))

    def assessed(window: Window | None) -> Assessment:
        return assess(build_record(request.patient_id, data.patient, data.resources, deps.knowledge,
                                   data.unavailable, data.partial, window), now, deps.knowledge)

    assessment = assessed(window)
    if assessment.fever is not None and not assessment.history:
        # but one: with a fever and no ANC in the look-back, R7 reads the last ANC however old -- read it all
        assessment = assessed(None)
    if assessment.ignored_other_patient:
        # R1: a data-integrity warning; the hook instance identifies the call without any PHI.
        log.warning("data integrity: %d entries (results, medications, procedures, conditions) filed for another "
                    "patient were ignored (hookInstance %s)",
                    assessment.ignored_other_patient, request.hook_instance)
    return assessment


def patient_view(request: HookRequest, data: PatientData, deps: ServiceDependencies) -> list[dict[str, Any]]:
    """patient-view: the neutropenia card for the patient's current ANC, if any."""
    return deps.renderer.cards(assess_patient(request, data, deps), deps.base_url, request.patient_id)


def check_drafts(request: HookRequest, data: PatientData, deps: ServiceDependencies) -> list[dict[str, Any]]:
    """order-select and order-sign: the draft orders the hook names (request.draft_orders) against R9."""
    orders = with_terminology(list(request.draft_orders), deps.terminology, deps.knowledge.context)
    for order in orders:
        if not order.service and not identify(order.concept, deps.knowledge.context).recognised:
            noticed(log, "unrecognised medication in a draft order")  # R9: counted, never flagged
    assessment = assess_patient(request, data, deps)
    risks = check_orders(orders, assessment, deps.knowledge)
    return deps.renderer.order_cards(risks, assessment, request.patient_id, deps.base_url,
                                     cbc_drafted(request.drafted, deps.knowledge))


def answer(service: CdsService, request: HookRequest, deps: ServiceDependencies) -> list[dict[str, Any]]:
    """A hook call's cards: the patient's data resolved, then the service's handler. An order service with no draft
    to check answers no card without reading the record."""
    if service.drafts is not None and not request.draft_orders:
        return []
    return service.handler(request, patient_data(request, service, deps), deps)


# The hooks' context also carries userId (CDS Hooks: required), but no rule reads it: never a reason to refuse a call.
REQUIRED_CONTEXT = ("patientId",)


def declare_services(knowledge: Knowledge) -> dict[str, CdsService]:
    """Every service this deployment offers, by id."""
    services = [
        CdsService(
            id="neutropenia-patient-view",
            hook="patient-view",
            title="Neutropenia check",
            description=(
                "Reads the patient's ANC (reported, or computed from WBC and differential) and says whether the "
                "patient is neutropenic for their age, how severely, and what to do."
            ),
            required_context=REQUIRED_CONTEXT,
            prefetch=patient_prefetch(knowledge),
            handler=patient_view,
        ),
        CdsService(
            id="neutropenia-order-select",
            hook="order-select",
            title="Neutropenia order check (selection)",
            description=(
                "When orders are selected: flags live vaccines, chemotherapy, clozapine, drugs linked to neutropenia "
                "and rectal-route orders that are unsafe for the patient's ANC, one card per order."
            ),
            required_context=REQUIRED_CONTEXT,
            prefetch=patient_prefetch(knowledge),
            handler=check_drafts,
            drafts="selected",
        ),
        CdsService(
            id="neutropenia-order-sign",
            hook="order-sign",
            title="Neutropenia order check (signing)",
            description=(
                "Before orders are signed: checks every draft order against the patient's ANC -- live vaccines, "
                "chemotherapy, clozapine, drugs linked to neutropenia, the rectal route -- one card per risky order."
            ),
            required_context=REQUIRED_CONTEXT,
            prefetch=patient_prefetch(knowledge),
            handler=check_drafts,
            drafts="all",
        ),
    ]
    return {s.id: s for s in services}
