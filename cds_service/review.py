"""The review page: hook calls rendered the way an EHR shows their cards, beside each patient's ANC trend chart, so a
clinician can review the wording without reading JSON. GET /preview shows every fixture scenario (dev profile, or
`review_page = true`); `neutropenia-cds evaluate FILE --html OUT.html` writes the same page for one request or Bundle.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from cds_service.clinical.model import Assessment
from cds_service.errors import ServiceError
from cds_service.fhir.hook_request import parse_hook_request
from cds_service.render.chart import anc_chart
from cds_service.render.pages import markdown_html
from cds_service.services import CdsService, ServiceDependencies, answer, assess_patient, patient_data

HOOKS = ("patient-view", "order-select", "order-sign")
_PAGE = jinja2.Environment(loader=jinja2.PackageLoader("cds_service", "."), autoescape=True,
                           undefined=jinja2.StrictUndefined).get_template("review.html")


@dataclass(frozen=True)
class Scenario:
    """One hook call to review: what it is about, and when it is evaluated."""

    hook: str
    name: str
    description: str
    now: datetime
    request: dict[str, Any]


@dataclass(frozen=True)
class Reviewed:
    """What the page shows of one call or record: its cards, its assessment (the chart), or the error answered."""

    name: str
    hook: str
    description: str
    now: datetime
    cards: list[dict[str, Any]]
    assessment: Assessment | None
    error: str | None = None


def fixture_scenarios(fixtures_dir: Path) -> Iterator[Scenario]:
    """Every scenario of fixtures/<hook>/scenarios.toml, in file order."""
    for hook in HOOKS:
        listing = fixtures_dir / hook / "scenarios.toml"
        if not listing.is_file():
            continue
        for entry in tomllib.loads(listing.read_text(encoding="utf-8"))["scenario"]:
            request = json.loads((fixtures_dir / hook / f"{entry['name']}.request.json").read_text(encoding="utf-8"))
            yield Scenario(hook, entry["name"], entry.get("description", ""), entry["now"], request)


def review(scenario: Scenario, services: dict[str, CdsService], deps: ServiceDependencies) -> Reviewed:
    """The scenario through the service that answers its hook, at the scenario's time, from its prefetch only."""
    deps = dataclasses.replace(deps, clock=lambda: scenario.now, fhir=None, terminology=None)
    service = next(s for s in services.values() if s.hook == scenario.hook)
    try:
        request = parse_hook_request(scenario.request, service.hook, service.required_context, service.drafts)
        cards = answer(service, request, deps)
        assessment = assess_patient(request, patient_data(request, service, deps), deps)
    except ServiceError as exc:
        return Reviewed(scenario.name, scenario.hook, scenario.description, scenario.now, [], None,
                        f"{exc.status} {exc}")
    return Reviewed(scenario.name, scenario.hook, scenario.description, scenario.now, cards, assessment)


def _card_view(card: dict[str, Any]) -> dict[str, Any]:
    return {"links": [], "suggestions": [], "overrideReasons": [], **card, "detail_html": markdown_html(card["detail"])}


REVIEW_INTRO = ("Cards as an EHR shows them, beside each patient's ANC trend: counts over time, the lower limit for "
                "age, the severity bands (severe, moderate, mild), chemotherapy doses and fever readings. Clinical "
                "wording must be reviewed by a clinician before real-world use.")


def review_page(title: str, reviewed: list[Reviewed], deps: ServiceDependencies, intro: str = REVIEW_INTRO) -> str:
    """The page: one section a scenario -- its description and chart, and its cards as an EHR shows them."""
    thresholds = deps.knowledge.thresholds
    sections = []
    for number, item in enumerate(reviewed, start=1):
        chart_id = f"chart-{number}"
        sections.append({
            "id": f"{item.hook}-{item.name}",
            "hook": item.hook,
            "name": item.name,
            "description": item.description,
            "now": item.now.isoformat(),
            "error": item.error,
            "cards": [_card_view(card) for card in item.cards],
            "chart_id": chart_id,
            "points": len(item.assessment.history) if item.assessment else 0,
            "chart": (Markup(anc_chart(item.assessment, thresholds, chart_id, deps.knowledge.zone))
                      if item.assessment else None),
        })
    return _PAGE.render(title=title, intro=intro, sections=sections)
