"""Plain data types of the clinical domain: what the FHIR layer hands in and what an assessment hands out."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

import msgspec

from cds_service.knowledge.vocabulary import LlnBasis, Role, Severity


class AncSource(enum.StrEnum):
    """R4: which path produced the ANC of a collection."""

    REPORTED = "reported"
    SEGS_BANDS = "segs+bands"
    COMPUTED = "computed"
    WBC_BOUND = "wbc-bound"


class Finding(enum.StrEnum):
    """The headline of a card (DESIGN.md contract)."""

    NEUTROPENIA = "neutropenia"
    FEBRILE_NEUTROPENIA = "febrile-neutropenia"
    POSSIBLE_FEBRILE_NEUTROPENIA = "possible-febrile-neutropenia"
    FEVER_WITH_NEUTROPENIA = "fever-with-neutropenia"
    DUFFY_NULL_RANGE = "duffy-null-range"
    LOW_FOR_AGE = "low-for-age"
    NO_CURRENT_ANC = "no-current-anc"
    DATA_PROBLEM = "data-problem"
    ORDER_RISK = "order-risk"


class Trend(enum.StrEnum):
    """R6 direction of the last ANCs."""

    FALLING = "falling"
    RECOVERING = "recovering"
    RECOVERED = "recovered"
    STABLE = "stable"
    UNKNOWN = "unknown"  # an upper bound ("<300", a WBC bound) leaves it open which way the count went



class Problem(enum.StrEnum):
    """R10 data problems: reasons a result could not be interpreted."""

    UNRECOGNISED_UNIT = "unrecognised-unit"
    MISSING_UNIT = "missing-unit"
    PERCENT_ON_COUNT = "percent-unit-on-count-code"
    COUNT_ON_PERCENT = "count-unit-on-percent-code"
    WRONG_KIND_OF_UNIT = "wrong-kind-of-unit"
    LOWER_BOUND_ONLY = "lower-bound-only"
    OUT_OF_RANGE = "value-out-of-range"
    UNREADABLE = "unreadable-resource"
    NOT_A_QUANTITY = "not-a-quantity"
    UPPER_BOUND_ABOVE_LIMIT = "upper-bound-above-limit"
    ANC_ABOVE_WBC = "anc-above-wbc"  # R4.4: the ANC cannot exceed the WBC of its collection
    UNKNOWN_STATUS = "unknown-status"  # R1: a status that is no FHIR Observation status -- not known to be usable
    NOT_A_BODY_TEMPERATURE = "not-a-body-temperature"  # R10: no living patient's (98.6 "Cel"): check its unit


class Note(enum.StrEnum):
    """Facts about how an ANC was obtained that the card must mention (R1, R4)."""

    BANDS_NOT_REPORTED = "bands-not-reported"
    REPORTED_COMPUTED_MISMATCH = "reported-computed-mismatch"
    CONFLICTING_REPORTED = "conflicting-reported-values"
    BOUNDED_BY_WBC = "bounded-by-wbc"  # a reported upper bound above the collection's WBC: at most the WBC (R4.4)


class DataKind(enum.StrEnum):
    """Kinds of data the EHR may fail to send; a card says which were not available to the check."""

    LABS = "labs"
    VITALS = "vitals"
    LAB_REPORTS = "lab-reports"
    MEDICATION_ORDERS = "medication-orders"
    MEDICATION_ADMINISTRATIONS = "medication-administrations"
    MEDICATION_STATEMENTS = "medication-statements"
    PROCEDURES = "procedures"
    CONDITIONS = "conditions"
    DUFFY_RESULTS = "duffy-results"


MEDICATION_KINDS = frozenset(
    {DataKind.MEDICATION_ORDERS, DataKind.MEDICATION_ADMINISTRATIONS, DataKind.MEDICATION_STATEMENTS}
)
CHEMOTHERAPY_KINDS = MEDICATION_KINDS | {DataKind.PROCEDURES}  # where R8 finds a dose


class Quantity(msgspec.Struct, frozen=True):
    """A FHIR Quantity as sent, before R3 normalisation."""

    value: Decimal
    comparator: str | None = None
    unit: str | None = None
    system: str | None = None
    code: str | None = None


class ObservationFacts(msgspec.Struct, frozen=True):
    """What the clinical rules need from one FHIR Observation, already matched to a role by LOINC code (R2)."""

    id: str | None
    role: Role
    loinc: str
    status: str
    subject: str | None
    quantity: Quantity | None
    effective: datetime | None  # R1 order within the Observation: dateTime, period.end/.start, instant
    issued: datetime | None
    last_updated: datetime | None
    specimen: str | None = None
    reference_low: Quantity | None = None
    data_absent: bool = False
    value_text: str | None = None  # a valueString sent in place of a quantity: said, never read (R10)


class ReportFacts(msgspec.Struct, frozen=True):
    """A DiagnosticReport: its effective time dates the Observations it lists (R1), and groups them (R4)."""

    id: str | None
    effective: datetime | None
    results: tuple[str, ...]  # Observation ids named in DiagnosticReport.result


class PanelFacts(msgspec.Struct, frozen=True):
    """A CBC or differential panel Observation: its effective time dates the results it lists in hasMember (R1),
    and those results are one collection (R4)."""

    id: str | None
    effective: datetime | None
    members: tuple[str, ...]  # Observation ids named in hasMember


class Coding(msgspec.Struct, frozen=True):
    """A coded value as sent: system and code (display is never matched on)."""

    system: str | None
    code: str | None


class Evidence(enum.StrEnum):
    """R9 drug identity: how a medication was recognised, strongest first."""

    CODE = "code"  # a coding on a knowledge list itself (RxNorm ingredient, ATC, CVX)
    INGREDIENT = "ingredient"  # Medication.ingredient
    PRODUCT = "product"  # the shipped RxNorm product table
    NAME = "name"  # a listed ingredient or brand named in a display or text
    TERMINOLOGY = "terminology"  # the ingredients a terminology service gave for the code

    @property
    def rank(self) -> int:
        """0 for the strongest evidence."""
        return list(Evidence).index(self)


class MedicationConcept(msgspec.Struct, frozen=True):
    """What a medication resource says the drug is -- the raw material of R9 drug identity."""

    codings: tuple[Coding, ...] = ()  # medicationCodeableConcept, or the referenced Medication's code
    ingredient_codings: tuple[Coding, ...] = ()  # Medication.ingredient[].itemCodeableConcept
    names: tuple[str, ...] = ()  # CodeableConcept text and coding displays
    related: tuple[Coding, ...] = ()  # ingredients a terminology service gave for codings (R9, evidence 5)
    related_names: tuple[str, ...] = ()  # their names
    routes: tuple[Coding, ...] = ()  # route codes (R9: rectal, topical...)
    route_names: tuple[str, ...] = ()  # the routes' texts and displays (R9: a rectal route named, not coded)


class DrugIdentity(msgspec.Struct, frozen=True):
    """R9: what a medication was recognised as, and how. Ingredient keys are RxNorm ingredient codes (or
    "name:X" for a listed drug without one)."""

    ingredients: tuple[tuple[str, Evidence], ...] = ()
    antineoplastic: str | None = None  # its name, when it is one
    antineoplastic_by: Evidence | None = None
    live_vaccine_by: Evidence | None = None
    non_systemic: bool = False  # topical, ophthalmic or otic (by route or dose form)

    def has(self, ingredient: str) -> bool:
        return any(key == ingredient for key, _ in self.ingredients)

    @property
    def recognised(self) -> bool:
        return bool(self.ingredients) or self.antineoplastic is not None or self.live_vaccine_by is not None


class MedicationKind(enum.StrEnum):
    REQUEST = "MedicationRequest"
    ADMINISTRATION = "MedicationAdministration"
    STATEMENT = "MedicationStatement"


class MedicationFacts(msgspec.Struct, frozen=True):
    """A medication resource: what was ordered, given or taken, what it was recognised as (R9 drug identity, worked
    out once as the record is read), and when it was given or started (R7, R8)."""

    id: str | None
    kind: MedicationKind
    status: str
    concept: MedicationConcept
    identity: DrugIdentity
    started_at: datetime | None
    subject: str | None = None  # whose it is (R1: another patient's is ignored)
    # given or taken over a period -- a MedicationStatement's effectivePeriod, an order's dosage bounds -- rather than
    # at one moment (R7/R8 "given": on every day of it), and the period's end, if it has one
    course: bool = False
    ended_at: datetime | None = None
    # an order that says nothing of its doses after its date (no repeat, bounds or count: a sig in words only) -- read
    # as one dose then, though more may follow while it is active
    later_doses_unknown: bool = False


class ProcedureFacts(msgspec.Struct, frozen=True):
    """A Procedure (R8: chemotherapy, SNOMED CT 367336001)."""

    id: str | None
    status: str
    codings: tuple[Coding, ...]
    performed_at: datetime | None
    subject: str | None = None
    course: bool = False  # performed over a period (a continuous infusion of days), to `ended_at` if it has one
    ended_at: datetime | None = None


class ConditionFacts(msgspec.Struct, frozen=True):
    """A Condition (R8: causes found in the record; a site's Duffy-null code)."""

    id: str | None
    clinical_status: str | None
    verification_status: str | None
    codings: tuple[Coding, ...]
    subject: str | None = None


class ComponentFacts(msgspec.Struct, frozen=True):
    codings: tuple[Coding, ...]
    value_codings: tuple[Coding, ...]
    value_text: str | None


class CodedObservationFacts(msgspec.Struct, frozen=True):
    """An Observation with a coded value (R8: Duffy genotype, Fy(a)/Fy(b) antigens, a site's value set)."""

    id: str | None
    status: str
    subject: str | None
    codings: tuple[Coding, ...]
    value_codings: tuple[Coding, ...]
    value_text: str | None
    components: tuple[ComponentFacts, ...]
    specimen: str | None
    effective: datetime | None


class PatientRecord(msgspec.Struct, frozen=True):
    """Everything the assessment reads about one patient, as plain data."""

    patient_id: str
    birth_date: date | None = None
    birth_date_precision: str = "day"  # "day", or "month"/"year" for a partial birthDate
    birth_time: datetime | None = None  # the hour of birth, where the record gives it (R5: else from midnight)
    observations: tuple[ObservationFacts, ...] = ()
    reports: tuple[ReportFacts, ...] = ()
    panels: tuple[PanelFacts, ...] = ()
    unreadable: tuple[DataProblem, ...] = ()  # relevant resources that failed FHIR validation (R10)
    medications: tuple[MedicationFacts, ...] = ()
    procedures: tuple[ProcedureFacts, ...] = ()
    conditions: tuple[ConditionFacts, ...] = ()
    coded_observations: tuple[CodedObservationFacts, ...] = ()
    unavailable: tuple[DataKind, ...] = ()  # kinds of data the EHR did not send or could not fetch
    partial: tuple[DataKind, ...] = ()  # kinds read only in part (paging bound, a page that failed)


class LabResult(msgspec.Struct, frozen=True):
    """One usable, normalised result (R1, R3): counts in /uL, percentages in %, temperatures in Celsius."""

    observation_id: str | None
    role: Role
    loinc: str
    value: Decimal
    comparator: str | None
    collected_at: datetime | None
    preliminary: bool
    specimen: str | None
    report: str | None
    reference_low: Decimal | None = None
    panel: str | None = None  # the panel Observation that lists it (R1, R4)


class DataProblem(msgspec.Struct, frozen=True):
    """A result that could not be interpreted (R10); shown, never classified."""

    problem: Problem
    role: Role
    loinc: str
    observation_id: str | None
    collected_at: datetime | None
    unit: str | None = None
    sent: str | None = None  # the value as sent ("<0.1" as text, "0.3" as a string), for the clinician to read


class AncMeasurement(msgspec.Struct, frozen=True):
    """The ANC of one collection (R4)."""

    value: Decimal  # /uL; for wbc-bound, the WBC that bounds it from above
    comparator: str | None  # "<" or "<=" when the value is an upper bound
    source: AncSource
    collected_at: datetime | None
    preliminary: bool
    notes: tuple[Note, ...] = ()
    observation_ids: tuple[str, ...] = ()
    reference_low: Decimal | None = None  # the lab's lower limit (referenceRange.low), for the CTCAE grade
    computed_value: Decimal | None = None  # the computed ANC when a reported one disagreed with it

    @property
    def measured(self) -> bool:
        """A count measured; else an upper bound ("<300", at most the WBC: R4), its count any below its value -- which
        rules out no danger below it (R6 trend, R7, R8, R9: the safer reading)."""
        return self.comparator is None


class AgeLimit(msgspec.Struct, frozen=True):
    """The lower limit of normal that applies at a collection time (R5)."""

    lln: Decimal
    basis: LlnBasis
    age_days: int | None
    birth_weight_missing: bool = False


class Classified(msgspec.Struct, frozen=True):
    """One ANC measured against the age limit and the severity bands (R5)."""

    anc: AncMeasurement
    limit: AgeLimit
    severity: Severity
    profound: bool
    ctcae_grade: int | None


class TrendSummary(msgspec.Struct, frozen=True):
    """R6: up to the last three ANCs in the trend window, oldest first, and the direction."""

    points: tuple[Classified, ...]
    direction: Trend


class TemperatureReading(msgspec.Struct, frozen=True):
    celsius: Decimal
    at: datetime
    route: str
    comparator: str | None = None  # ">" or ">=": a thermometer's "above its range" -- at least this hot


class FeverRule(enum.StrEnum):
    """R7: which fever definition was met."""

    SINGLE = "single"  # one reading >= 38.3 C
    SUSTAINED = "sustained"  # >= 38.0 C over >= 60 minutes


class Fever(msgspec.Struct, frozen=True):
    """R7: fever now, with the readings that made it."""

    rule: FeverRule
    readings: tuple[TemperatureReading, ...]  # the qualifying readings, oldest first

    @property
    def highest(self) -> TemperatureReading:
        return max(self.readings, key=lambda r: r.celsius)


class DuffyStatus(enum.StrEnum):
    """R8: how Duffy-null status is documented -- never inferred from race or ethnicity."""

    GENOTYPE = "genotype"
    RED_CELL_ANTIGENS = "red-cell-antigens"
    SITE_CODE = "site-code"
    UNKNOWN = "unknown"


class ChemotherapyDose(msgspec.Struct, frozen=True):
    """R8: an antineoplastic given or started (or a chemotherapy procedure), and when; a course given over a period
    (daily oral chemotherapy) is one dose from its start to its last day."""

    agent: str
    at: datetime  # given, or the course started
    days_before: int  # calendar days before the assessment (the site's time zone)
    last_days_before: int  # ... of the last dose given (a course's last day; one dose: days_before)
    in_window: bool  # R7/R8: a dose given 3 to 14 days before
    recognised_by: Evidence = Evidence.CODE
    last_at: datetime | None = None  # a course: its last day given (now while it goes on); None: one dose, at `at`
    ongoing: bool = False  # a course still given (active, with no end before now)
    # False: an active order or statement that no date places -- given now, since a day no record gives (`at` is
    # then now, the one day it is known to be given; never in the 3-14 day window, which the card says it may be)
    start_recorded: bool = True


class ClozapineAction(enum.StrEnum):
    """R8: the clozapine label's action for the ANC band (general and Duffy-null/BEN tables)."""

    CONTINUE = "continue"
    CONTINUE_THREE_TIMES_WEEKLY = "continue-monitor-three-times-weekly"
    INTERRUPT_CONSULT_DAILY = "interrupt-consult-daily"
    CONSULT_CONTINUE_THREE_TIMES_WEEKLY = "consult-continue-three-times-weekly"
    INTERRUPT = "interrupt"
    INTERRUPT_NO_RECHALLENGE = "interrupt-no-rechallenge"
    MEASURE_ANC = "measure-anc"  # an upper bound (a WBC with no differential): the row cannot be chosen yet


class ClinicalContext(msgspec.Struct, frozen=True):
    """R8: what the record says around the count."""

    chemotherapy: ChemotherapyDose | None = None  # the most recent dose (in the window, if any is)
    latest_chemotherapy: ChemotherapyDose | None = None  # the most recent dose, whatever the window
    clozapine_active: bool = False
    # R7/R9: an antineoplastic whose order or statement is still active and whose doses up to now no record dates --
    # chemotherapy now or soon, on days no record gives
    active_antineoplastic: str | None = None
    duffy: DuffyStatus = DuffyStatus.UNKNOWN
    causes: tuple[str, ...] = ()  # names from knowledge, "found in the record", never a diagnosis
    doses: tuple[ChemotherapyDose, ...] = ()  # every dose found, oldest first (the trend chart marks them)
    unavailable: tuple[DataKind, ...] = ()
    partial: tuple[DataKind, ...] = ()
    ignored_other_patient: int = 0  # medications, procedures and conditions filed for another patient (R1)

    @property
    def chemotherapy_unchecked(self) -> bool:
        """R7/R8: a dose may be missing from what was read -- medication or procedure data not all available."""
        return not CHEMOTHERAPY_KINDS.isdisjoint((*self.unavailable, *self.partial))


class Assessment(msgspec.Struct, frozen=True):
    """The whole clinical answer for one patient at one moment: no text, only facts and decisions."""

    now: datetime
    finding: Finding | None
    current: Classified | None = None
    # no current ANC: the last one -- abnormal and within the look-back (R6), or, with a fever, however old (R7)
    last_abnormal: Classified | None = None
    undated_abnormal: tuple[Classified, ...] = ()
    trend: TrendSummary | None = None
    data_problems: tuple[DataProblem, ...] = ()
    ignored_other_patient: int = 0
    general_lln: Decimal = Decimal(1500)
    fever: Fever | None = None
    context: ClinicalContext | None = None
    clozapine_action: ClozapineAction | None = None
    suggest_duffy_phenotyping: bool = False
    history: tuple[Classified, ...] = ()  # every dated ANC read, oldest first (R6 look-back; the trend chart)
    temperatures: tuple[TemperatureReading, ...] = ()  # every dated temperature read, oldest first
    anc_before_dose: bool = False  # R7: the headline ANC was taken before the dose of the 3-14 day window

    @property
    def febrile(self) -> bool:
        return self.fever is not None

    @property
    def headline(self) -> Classified | None:
        """The classified ANC the card leads with."""
        return self.current or self.last_abnormal or (self.undated_abnormal[0] if self.undated_abnormal else None)


class DraftOrder(msgspec.Struct, frozen=True):
    """A draft order from the hook's context.draftOrders (R9), as plain data."""

    reference: str  # "MedicationRequest/123": what a delete suggestion names
    name: str  # the order's own text, for the card (escaped when rendered)
    concept: MedicationConcept  # the medication (or service) codes, names and routes
    status: str | None = None  # as sent (R9: some are not checked)
    # a ServiceRequest: it may order a vaccine; a drug it names is a test of its level ("VANCOMYCIN TROUGH"), so only
    # a code of a drug makes it one (R9 drug identity, evidence 1-3), never a name
    service: bool = False


class OrderRule(enum.StrEnum):
    """R9: which row of the order-entry table fired."""

    LIVE_VACCINE = "live-vaccine"
    ANTINEOPLASTIC = "antineoplastic"
    CLOZAPINE = "clozapine"
    ASSOCIATED_DRUG = "neutropenia-associated-drug"
    RECTAL_ROUTE = "rectal-route"


class OrderReason(enum.StrEnum):
    """R9: why the row fired."""

    ANC_BELOW_CRITICAL = "anc-below-critical"  # the row's critical limit (500)
    ANC_BELOW_WARNING = "anc-below-warning"  # the row's warning limit
    RECENT_CHEMOTHERAPY = "antineoplastic-within-90-days"
    ACTIVE_CHEMOTHERAPY = "antineoplastic-active"  # an antineoplastic order or statement still active, doses undated
    NO_CURRENT_ANC = "no-current-anc"
    ANC_MAY_BE_BELOW = "anc-may-be-below"  # an upper bound (a WBC with no differential) above the row's limit
    ANC_UNREADABLE = "anc-unreadable"  # a count newer than the ANC read (or with none) could not be read (R10)


class OrderFinding(msgspec.Struct, frozen=True):
    rule: OrderRule
    reason: OrderReason
    indicator: str  # "critical" | "warning"
    limit: Decimal | None = None  # the threshold the ANC was below


class OrderRisk(msgspec.Struct, frozen=True):
    """One risky draft order and every R9 row it met; one card each."""

    order: DraftOrder
    findings: tuple[OrderFinding, ...]
    drug: str | None = None  # what the order was recognised as (knowledge name), for the card
    recognised_by: Evidence | None = None  # how (R9): the card says so when by name or terminology service

    @property
    def indicator(self) -> str:
        return "critical" if any(f.indicator == "critical" for f in self.findings) else "warning"

    @property
    def suggest_cbc(self) -> bool:
        return any(f.reason in (OrderReason.NO_CURRENT_ANC, OrderReason.ANC_MAY_BE_BELOW, OrderReason.ANC_UNREADABLE)
                   or f.rule in (OrderRule.CLOZAPINE, OrderRule.ANTINEOPLASTIC) for f in self.findings)
