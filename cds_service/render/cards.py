"""Card templates (cards/*.toml) loaded and checked once, and the cards they make from an Assessment."""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import tomllib
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal, localcontext
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
import jinja2.meta
from fhir.resources.R4B.servicerequest import ServiceRequest

from cds_service.clinical.model import (
    Assessment,
    ChemotherapyDose,
    Classified,
    ClinicalContext,
    Fever,
    Finding,
    OrderRisk,
)
from cds_service.clinical.orders import is_count
from cds_service.knowledge import Knowledge
from cds_service.knowledge.vocabulary import Severity
from cds_service.render.plain import json_number

log = logging.getLogger(__name__)

SUMMARY_LIMIT = 140  # CDS Hooks 2.0: summary SHOULD be under 140 characters
OVERRIDE_REASON_SYSTEM = "urn:neutropenia-cds:override-reason"
EXTENSION_KEY = "neutropenia-cds"
_RAW_HTML = re.compile(r"<[A-Za-z/!?]")
_BLANK_LINES = re.compile(r"\n\s*\n(\s*\n)+")
_BETWEEN_BULLETS = re.compile(r"(?m)^(- .*)\n\s*\n(?=- )")  # partials' blank lines inside one list
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~])")
_ANGLE = str.maketrans({"<": "\u2039", ">": "\u203a"})  # look-alikes: inert as Markdown and as plain text


class CardTemplateError(ValueError):
    """A card template is missing, malformed, or renders badly; the message names the file."""


def plain_text(value: object, limit: int = 60) -> str:
    """Text from the record on one line, no longer than `limit`: a longer one cut at a word where it can be, with an
    ellipsis, so that a card never shows half a word as though it were the whole name; angle brackets made inert."""
    text = " ".join(str(value).split())
    if len(text) > limit:
        cut = text[:limit - 1]
        space = cut.rfind(" ")
        text = (cut[:space] if space > limit // 2 else cut).rstrip(" ,;:-") + "\u2026"
    return text.translate(_ANGLE)


def markdown_text(value: object, limit: int = 60) -> str:
    """Text from the record, made inert in Markdown (no raw HTML, no links) and kept short (plain_text)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", plain_text(value, limit))


_BOUND_SIGN = {"<": "<", "<=": "\u2264", ">": ">", ">=": "\u2265"}  # a value sent as a bound keeps its sign
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")  # whatever the locale


def count_text(value: Decimal, comparator: str | None = None) -> str:
    """'1,499/uL': rounded down, which never moves a count across an integer limit (R5: unrounded comparisons)."""
    return f"{_BOUND_SIGN.get(comparator or '', '')}{int(value):,}/uL"


def day_text(moment: datetime | None, now: datetime) -> str:
    """'Nov 24': the day in the time zone of `now` -- the site's, as every time on a card is (a result sent with
    another offset is converted)."""
    if moment is None:
        return "date unknown"
    moment = moment.astimezone(now.tzinfo)
    text = f"{_MONTHS[moment.month - 1]} {moment.day}"
    return text if moment.year == now.year else f"{text}, {moment.year}"


def time_text(moment: datetime, now: datetime) -> str:
    """'Nov 24 23:30 UTC', 'Nov 24 17:30 CST': the day and clock time in the time zone of `now` (the site's), named
    by its abbreviation, with the year too when it is not this year's."""
    moment = moment.astimezone(now.tzinfo)
    return f"{day_text(moment, now)} {moment.hour:02d}:{moment.minute:02d} {moment.tzname()}"


def celsius_text(celsius: Decimal, comparator: str | None = None) -> str:
    """'38.2 °C / 100.9 °F': Celsius rounded down (never shown over a limit it is under), Fahrenheit rounded. Enough
    digits for any value sent (1e300 °C is shown as sent, never an error). A lower bound keeps its sign: '>42.0 °C'."""
    with localcontext() as digits:
        digits.prec = max(digits.prec, celsius.adjusted() + 4)
        shown = celsius.quantize(Decimal("0.1"), rounding=ROUND_FLOOR)
        fahrenheit = (celsius * 9 / 5 + 32).quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN)
    sign = _BOUND_SIGN.get(comparator or "", "")
    return f"{sign}{shown} \u00b0C / {sign}{fahrenheit} \u00b0F"


def _number(value: Decimal | None) -> int | float | None:
    return json_number(value) if value is not None else None


@dataclass(frozen=True)
class CardTemplate:
    finding: str
    path: Path
    summary: jinja2.Template
    detail: jinja2.Template
    source: Mapping[str, str]
    links: tuple[Mapping[str, str], ...]
    suggestions: Mapping[str, str] = dataclasses.field(default_factory=dict)  # label by suggestion kind
    override_reasons: tuple[Mapping[str, str], ...] = ()  # code and display
    # what the card cites by R9 rule (order-risk) or by data problem (data-problem), where not `source`
    sources: Mapping[str, Mapping[str, str]] = dataclasses.field(default_factory=dict)


HANDOUT_PATH = "/handouts/neutropenia"
HANDOUT_LABEL = "Patient handout: neutropenia and avoiding infection (printable)"


def handout_link(base_url: str) -> dict[str, str]:
    """The patient handout, linked from every clinical card (absolute: an EHR opens it in a browser)."""
    return {"label": HANDOUT_LABEL, "url": base_url.rstrip("/") + HANDOUT_PATH, "type": "absolute"}


def sentence_case(text: str) -> str:
    """'Sulfamethoxazole / trimethoprim': a name from knowledge, first letter raised, to begin a sentence or label."""
    return text[:1].upper() + text[1:]


def _order_name(risk: OrderRisk) -> str:
    """What a card calls a draft order: the name it was sent with; for one sent with a code alone, the drug it was
    recognised as, then that code ("Carboplatin (code 40048)", "Live vaccine (code 03)") -- or that code alone when
    the drug is named by it ("ATC L01AA01")."""
    if risk.order.concept.names or not risk.drug:
        return risk.order.name
    if risk.drug.endswith(" " + risk.order.name.removeprefix("code ")):  # named by the code it was sent with
        return risk.drug
    return f"{sentence_case(risk.drug)} ({risk.order.name})"


def trend_app_link(base_url: str, patient_id: str) -> dict[str, str]:
    """The ANC trend app (cds_service/smart.py), launched by the EHR with SMART: the card's patient in appContext, so
    the app refuses a launch the EHR authorised for another patient."""
    return {"label": "View the ANC trend", "url": base_url.rstrip("/") + "/smart/launch", "type": "smart",
            "appContext": json.dumps({"patientId": patient_id}, separators=(",", ":"))}


def rule_source(template: CardTemplate, rule: str, drug: str | None) -> dict[str, str]:
    """The source of the R9 rule that fired (`{drug}` in it: the drug's name; URL-encoded in the url)."""
    source = template.sources.get(rule, template.source)
    name = drug or "drug"
    return {"label": source["label"].replace("{drug}", sentence_case(name)),
            "url": source["url"].replace("{drug}", quote(name, safe=""))}


def _classified_view(item: Classified, now: datetime, placed: bool = True) -> dict[str, Any]:
    """`placed`: False for an ANC the assessment read as undated (R6): with no date, or dated further ahead than any
    clock error explains ("future")."""
    anc = item.anc
    return {
        "anc": count_text(anc.value, anc.comparator),
        "value": int(anc.value),
        "comparator": anc.comparator,
        "date": day_text(anc.collected_at, now),
        "dated": placed and anc.collected_at is not None,
        "future": not placed and anc.collected_at is not None,
        "when": time_text(anc.collected_at, now) if anc.collected_at else "no collection time",
        "source": str(anc.source),
        "preliminary": anc.preliminary,
        "notes": [str(n) for n in anc.notes],
        "computed": count_text(anc.computed_value) if anc.computed_value is not None else None,
        "severity": str(item.severity),
        "severity_title": str(item.severity).capitalize(),
        "profound": item.profound,
        "ctcae_grade": item.ctcae_grade,
        "lln": count_text(item.limit.lln),
        "lln_basis": str(item.limit.basis),
        "age_days": item.limit.age_days,
        "birth_weight_missing": item.limit.birth_weight_missing,
    }


def _fever_view(fever: Fever | None, now: datetime) -> dict[str, Any] | None:
    if fever is None:
        return None
    top = fever.highest
    return {
        "rule": str(fever.rule),
        "highest": celsius_text(top.celsius, top.comparator),
        "highest_c": celsius_text(top.celsius, top.comparator).split(" / ")[0],
        "route": top.route,
        "date": day_text(top.at, now),
        "when": time_text(top.at, now),
        "readings": [{"temperature": celsius_text(r.celsius, r.comparator), "route": r.route,
                      "when": time_text(r.at, now)} for r in fever.readings],
    }


def _context_view(context: ClinicalContext | None, now: datetime) -> dict[str, Any]:
    context = context or ClinicalContext()
    dose = context.chemotherapy
    # every agent given at the moment of that dose (a regimen: carboplatin + paclitaxel), each with how it was known
    # (the doses come by time and agent, the strongest evidence first)
    together: dict[str, ChemotherapyDose] = {}
    if dose is not None:
        together = {dose.agent: dose}
        for given in context.doses:
            if given.at == dose.at:
                together.setdefault(given.agent, given)
    agents = [{"name": markdown_text(d.agent), "recognised_by": str(d.recognised_by)}
              for d in sorted(together.values(), key=lambda d: d.agent)]
    return {
        "chemo": {
            "agent": " + ".join(a["name"] for a in agents),
            "agents": agents,
            "date": day_text(dose.at, now),
            "days_before": dose.days_before,
            # a course given over a period: its last day, and whether it goes on
            "last_date": day_text(dose.last_at, now) if dose.last_at is not None else None,
            "last_days_before": dose.last_days_before,
            "ongoing": dose.ongoing,
            "start_recorded": dose.start_recorded,
            "in_window": dose.in_window,
            "recognised_by": str(dose.recognised_by),
        } if dose else None,
        "clozapine_active": context.clozapine_active,
        "active_antineoplastic": (markdown_text(context.active_antineoplastic) if context.active_antineoplastic
                                  else None),
        "duffy": str(context.duffy),
        "causes": list(context.causes),
        "unavailable": [str(kind) for kind in context.unavailable],
        "partial": [str(kind) for kind in context.partial],
        "chemo_unchecked": context.chemotherapy_unchecked,
    }


def knowledge_wording(knowledge: Knowledge) -> dict[str, Any]:
    """The rules' numbers as the card text shows them (R4-R9), so the text can never disagree with the rules.
    They depend on the knowledge only: a renderer computes them once."""
    thresholds = clozapine = knowledge.thresholds
    context = knowledge.context
    return {
        # R7/R8 numbers for the wording
        "fn_anc_below": count_text(thresholds.fn_anc_below),
        "fn_chemotherapy_anc_below": count_text(thresholds.fn_chemotherapy_anc_below),
        "chemo_window": f"{context.chemo_window_from_days}-{context.chemo_window_to_days} days",
        "fever_single": f"{thresholds.single_fever_from_c} \u00b0C",
        "fever_sustained": f"{thresholds.sustained_fever_from_c} \u00b0C",
        "fever_minutes": thresholds.sustained_minutes,
        "live_vaccine_chemotherapy_days": thresholds.live_vaccine_chemotherapy_days,
        "clozapine_limits": {
            "general_normal": count_text(clozapine.clozapine_general_normal_from),
            "general_mild": count_text(clozapine.clozapine_general_mild_from),
            "general_moderate": count_text(clozapine.clozapine_general_moderate_from),
            "duffy_normal": count_text(clozapine.clozapine_duffy_null_normal_from),
            "duffy_moderate": count_text(clozapine.clozapine_duffy_null_moderate_from),
        },
        "duffy_range": f"{count_text(thresholds.duffy_range_from)[:-3]}-{count_text(thresholds.duffy_range_below)}",
        "current_window_days": thresholds.current_window_days,
        "lookback_days": thresholds.lookback_days,
        "general_lln": count_text(thresholds.general_lln),
        # R4/R5 numbers for the wording
        "mild_from": count_text(thresholds.mild_from),
        "moderate_from": count_text(thresholds.moderate_from),
        "profound_below": count_text(thresholds.profound_below),
        "mismatch_percent": f"{float(thresholds.reported_computed_mismatch_fraction * 100):g} %",
    }


def template_context(assessment: Assessment, knowledge: Knowledge,
                     wording: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Everything a card template may use, as plain text and numbers (`wording`: knowledge_wording(knowledge))."""
    now = assessment.now.astimezone(knowledge.zone)  # every date and time on a card in the site's time zone
    headline = assessment.headline
    trend = assessment.trend
    return {
        **(wording if wording is not None else knowledge_wording(knowledge)),
        "fever": _fever_view(assessment.fever, now),
        "context": _context_view(assessment.context, now),
        "clozapine_action": str(assessment.clozapine_action) if assessment.clozapine_action else None,
        "suggest_duffy_phenotyping": assessment.suggest_duffy_phenotyping,
        "finding": str(assessment.finding) if assessment.finding else None,
        "anc": _classified_view(headline, now, headline not in assessment.undated_abnormal) if headline else None,
        "anc_before_dose": assessment.anc_before_dose,
        "undated_count": len(assessment.undated_abnormal),
        "trend": {
            "direction": str(trend.direction),
            "points": [_classified_view(p, now) for p in trend.points],
        } if trend else None,
        "problems": [
            {
                "problem": str(p.problem),
                "role": str(p.role),
                "loinc": p.loinc,
                "unit": plain_text(p.unit, 24) if p.unit else None,  # plain-text summary
                "unit_md": markdown_text(p.unit, 24) if p.unit else None,
                "sent": plain_text(p.sent, 24) if p.sent else None,  # plain-text summary
                "sent_md": markdown_text(p.sent, 24) if p.sent else None,
                "date": day_text(p.collected_at, now),
                "count": is_count(p, knowledge),  # an ANC, WBC or differential (not a temperature, a birth weight)
            }
            for p in assessment.data_problems
        ],
        "other_patient_count": assessment.ignored_other_patient,
        # a count that could not be read collected after the ANC shown, or at no known time (else it is of the ANC's
        # collection, or a version of it: R1, R4)
        "unreadable_count_newer": any(
            is_count(p, knowledge) and (headline is None or p.collected_at is None or headline.anc.collected_at is None
                                        or p.collected_at > headline.anc.collected_at)
            for p in assessment.data_problems),
    }


class CardRenderer:
    """Makes the CDS cards of an Assessment from checked templates."""

    def __init__(self, templates: Mapping[str, CardTemplate], knowledge: Knowledge, truncate: bool = True,
                 smart_launch: bool = False) -> None:
        self.templates = templates
        self.smart_launch = smart_launch  # clinical cards link the ANC trend app (a SMART launch)
        self.knowledge = knowledge
        self.thresholds = knowledge.thresholds
        self.truncate = truncate  # False when checking templates: an over-long summary must show
        self.wording = knowledge_wording(knowledge)

    def indicator(self, finding: Finding, severity: Severity | None) -> str:
        fixed = self.thresholds.indicator_by_finding.get(str(finding))
        if fixed is not None:
            return fixed  # R6, R10: info whatever the old result's severity
        if severity is None or severity is Severity.NONE:
            raise ValueError(f"finding {finding} has neither a severity nor a fixed indicator")
        return self.thresholds.indicator[severity]  # R5

    def card(self, finding: Finding, headline: Classified | None, context: dict[str, Any], base_url: str,
             febrile: bool = False, indicator: str | None = None,
             source: Mapping[str, str] | None = None, patient_id: str | None = None) -> dict[str, Any]:
        template = self.templates[str(finding)]
        try:
            summary = " ".join(template.summary.render(context).split())
            detail = _BLANK_LINES.sub("\n\n", template.detail.render(context)).strip()
            detail = _BETWEEN_BULLETS.sub(r"\1\n", detail)
        except jinja2.TemplateError as exc:
            raise CardTemplateError(f"{template.path.name}: {type(exc).__name__}: {exc}") from exc
        if self.truncate and len(summary) > SUMMARY_LIMIT:
            log.warning("summary of card %s cut to %d characters", finding, SUMMARY_LIMIT)
            summary = summary[: SUMMARY_LIMIT - 1] + "\u2026"
        severity = headline.severity if headline else None
        card: dict[str, Any] = {
            "uuid": str(uuid.uuid4()),
            "summary": summary,
            "indicator": indicator or self.indicator(finding, severity),
            "detail": detail,
            "source": dict(source or template.source),
        }
        links = [] if finding is Finding.DATA_PROBLEM else [handout_link(base_url)]
        if self.smart_launch and patient_id and finding is not Finding.DATA_PROBLEM:
            links.append(trend_app_link(base_url, patient_id))
        links += [{**link, "type": "absolute"} for link in template.links]
        if links:
            card["links"] = links
        anc = headline.anc if headline else None
        card["extension"] = {
            EXTENSION_KEY: {
                "finding": str(finding),
                "severity": str(severity) if severity and severity is not Severity.NONE else None,
                "profound": bool(headline and headline.profound),
                "ancPerUL": _number(anc.value) if anc else None,
                "ancComparator": anc.comparator if anc else None,
                "ancSource": str(anc.source) if anc else None,
                "observedAt": anc.collected_at.isoformat() if anc and anc.collected_at else None,
                "lln": _number(headline.limit.lln if headline else self.thresholds.general_lln),
                "ctcaeGrade": headline.ctcae_grade if headline else None,
                "febrile": febrile,
            }
        }
        return card

    def order_cards(self, risks: list[OrderRisk], assessment: Assessment, patient_id: str,
                    base_url: str, cbc_drafted: bool = False) -> list[dict[str, Any]]:
        """R9: one card per risky draft order, with remove / order-a-CBC suggestions and override reasons -- no CBC
        offered when one is among the draft orders already (`cbc_drafted`): the card says so."""
        template = self.templates[str(Finding.ORDER_RISK)]
        base = template_context(assessment, self.knowledge, self.wording)
        cards = []
        for risk in risks:
            context = {**base, "order": self._order_view(risk), "cbc_drafted": risk.suggest_cbc and cbc_drafted}
            card = self.card(Finding.ORDER_RISK, assessment.current, context, base_url, assessment.febrile,
                             risk.indicator, rule_source(template, str(risk.findings[0].rule), risk.drug), patient_id)
            suggestions = [] if "#" in risk.order.reference else [{  # (a draft sent without an id cannot be named)
                "label": template.suggestions.get("remove", "Remove the draft order"),
                "uuid": str(uuid.uuid4()),
                "isRecommended": risk.indicator == "critical",
                "actions": [{"type": "delete", "description": f"Remove {risk.order.reference}",
                             "resourceId": risk.order.reference}],
            }]
            if risk.suggest_cbc and not cbc_drafted:
                suggestions.append({
                    "label": template.suggestions.get("cbc", "Order a CBC with differential"),
                    "uuid": str(uuid.uuid4()),
                    "actions": [{"type": "create", "description": "Order a CBC with differential",
                                 "resource": self._cbc_order(patient_id)}],
                })
            card["suggestions"] = suggestions
            card["selectionBehavior"] = "any"
            card["overrideReasons"] = [{"system": OVERRIDE_REASON_SYSTEM, **reason}
                                       for reason in template.override_reasons]
            cards.append(card)
        return cards

    def _order_view(self, risk: OrderRisk) -> dict[str, Any]:
        name = _order_name(risk)
        return {
            "name": plain_text(name, 48),
            "name_md": markdown_text(name, 80),
            "reference": markdown_text(risk.order.reference, 80),
            "drug": markdown_text(risk.drug) if risk.drug else None,
            "drug_title": markdown_text(sentence_case(risk.drug)) if risk.drug else None,
            "recognised_by": str(risk.recognised_by) if risk.recognised_by else None,
            "first_rule": str(risk.findings[0].rule),
            "first_reason": str(risk.findings[0].reason),
            "findings": [{"rule": str(f.rule), "reason": str(f.reason), "indicator": f.indicator,
                          "limit": count_text(f.limit) if f.limit is not None else None} for f in risk.findings],
        }

    def _cbc_order(self, patient_id: str) -> dict[str, Any]:
        """The suggested CBC with differential, built and validated as a FHIR R4 ServiceRequest (strict in what is
        sent)."""
        codes = self.knowledge.context
        model = ServiceRequest.model_validate({
            "resourceType": "ServiceRequest",
            "status": "draft",
            "intent": "order",
            "code": {"coding": [{"system": "http://loinc.org", "code": codes.cbc_loinc, "display": codes.cbc_display}]},
            "subject": {"reference": f"Patient/{patient_id}"},
        })
        resource: dict[str, Any] = model.model_dump(mode="json", exclude_none=True)
        return resource

    def cards(self, assessment: Assessment, base_url: str, patient_id: str | None = None) -> list[dict[str, Any]]:
        """The cards for an assessment: the finding's card, then a data-problem card if any (R10). `base_url`: where
        this service is reached (the patient handout's link)."""
        if assessment.finding is None and not assessment.data_problems:
            return []  # the common case -- a normal count -- costs no rendering
        context = template_context(assessment, self.knowledge, self.wording)
        cards = []
        if assessment.finding is not None:
            cards.append(self.card(assessment.finding, assessment.headline, context, base_url, assessment.febrile,
                                   patient_id=patient_id))
        if assessment.data_problems:
            template = self.templates[str(Finding.DATA_PROBLEM)]  # cites what the first problem is about
            source = template.sources.get(str(assessment.data_problems[0].problem), template.source)
            cards.append(self.card(Finding.DATA_PROBLEM, None, context, base_url, source=source))
        return cards


def _environment(cards_dir: Path) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(cards_dir)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # Markdown, not HTML; record text goes through markdown_text
        keep_trailing_newline=False,
        auto_reload=False,  # loaded and checked once at start: nothing is read from disk per request
    )
    env.filters["md"] = markdown_text
    return env


def _load_one(path: Path, env: jinja2.Environment) -> CardTemplate:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CardTemplateError(f"{path.name}: {exc}") from exc
    missing = [k for k in ("finding", "summary", "detail", "source") if k not in data]
    if missing:
        raise CardTemplateError(f"{path.name}: missing {', '.join(missing)}")
    source = data["source"]
    if not isinstance(source, dict) or not source.get("label") or not str(source.get("url", "")).startswith(
        "https://"
    ):
        raise CardTemplateError(f"{path.name}: [source] needs a label and an https url")
    links = tuple(data.get("links", []))
    for link in links:
        if not link.get("label") or not str(link.get("url", "")).startswith("https://"):
            raise CardTemplateError(f"{path.name}: every [[links]] needs a label and an https url")
    sources = data.get("sources", {})
    for rule, cited in sources.items():
        if not isinstance(cited, dict) or not cited.get("label") or not str(cited.get("url", "")).startswith("https://"):
            raise CardTemplateError(f"{path.name}: [sources.{rule}] needs a label and an https url")
    reasons = tuple(data.get("override_reasons", []))
    if any(not r.get("code") or not r.get("display") for r in reasons):
        raise CardTemplateError(f"{path.name}: every [[override_reasons]] needs a code and a display")

    try:
        for text in (str(data["summary"]), str(data["detail"])):  # every partial found now, not at a call
            for name in jinja2.meta.find_referenced_templates(env.parse(text)):
                env.get_template(str(name))
        return CardTemplate(
            finding=str(data["finding"]),
            path=path,
            summary=env.from_string(str(data["summary"])),
            detail=env.from_string(str(data["detail"])),
            source={"label": str(source["label"]), "url": str(source["url"])},
            links=tuple({"label": str(link["label"]), "url": str(link["url"])} for link in links),
            suggestions={str(k): str(v) for k, v in data.get("suggestions", {}).items()},
            override_reasons=tuple({"code": str(r["code"]), "display": str(r["display"])} for r in reasons),
            sources={str(rule): {"label": str(c["label"]), "url": str(c["url"])} for rule, c in sources.items()},
        )
    except jinja2.TemplateSyntaxError as exc:
        raise CardTemplateError(f"{path.name}: template syntax error line {exc.lineno}: {exc.message}") from exc
    except jinja2.TemplateNotFound as exc:
        raise CardTemplateError(f"{path.name}: cannot include {exc.name}") from exc


def load_templates(cards_dir: Path, needed: tuple[Finding, ...]) -> dict[str, CardTemplate]:
    """Every *.toml in cards_dir, keyed by finding; CardTemplateError if one is broken or a needed one is missing.
    Partials (cards/partials/) are included with Jinja's include."""
    if not cards_dir.is_dir():
        raise CardTemplateError(f"card template folder not found: {cards_dir}")
    env = _environment(cards_dir)
    templates: dict[str, CardTemplate] = {}
    for path in sorted(cards_dir.glob("*.toml")):
        template = _load_one(path, env)
        if template.finding in templates:
            raise CardTemplateError(f"{path.name}: finding {template.finding} already has a template")
        templates[template.finding] = template
    absent = [str(f) for f in needed if str(f) not in templates]
    if absent:
        raise CardTemplateError(f"no card template for: {', '.join(absent)} (in {cards_dir})")
    return templates


def check_rendered(card: Mapping[str, Any], name: str) -> Iterator[str]:
    """Problems with one rendered card: summary length, raw HTML in the detail, empty text."""
    if not card["summary"]:
        yield f"{name}: empty summary"
    if len(card["summary"]) > SUMMARY_LIMIT:
        yield f"{name}: summary longer than {SUMMARY_LIMIT} characters: {card['summary']!r}"
    if _RAW_HTML.search(card["detail"]):
        yield f"{name}: detail contains raw HTML"
    if not card["detail"]:
        yield f"{name}: empty detail"
