"""Pages for people, not EHRs: the patient handout (every clinical card links it) and the review page."""

from __future__ import annotations

from flask import Blueprint, Response, current_app

from cds_service.errors import NotFound
from cds_service.http.reached import call_dependencies
from cds_service.render.pages import PAGE_POLICY
from cds_service.review import fixture_scenarios, review, review_page
from cds_service.settings import Settings

pages = Blueprint("pages", __name__)


def html_page(body: str) -> Response:
    response = Response(body, mimetype="text/html")
    response.headers["Content-Security-Policy"] = PAGE_POLICY  # no script runs, nothing is fetched from elsewhere
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@pages.get("/handouts/neutropenia")
def handout() -> Response:
    """The printable patient handout (built from cards/handouts/ at start: no patient data on it)."""
    return html_page(current_app.extensions["cds_handout"])


@pages.get("/preview")
def preview() -> Response:
    """Every fixture scenario's cards and ANC trend chart (dev profile, or review_page = true)."""
    settings: Settings = current_app.extensions["cds_settings"]
    if not settings.review_page_on:
        raise NotFound("the review page is off (setting review_page)")
    deps = call_dependencies()
    reviewed = [review(s, current_app.extensions["cds_services"], deps)
                for s in fixture_scenarios(settings.fixtures_dir)]
    return html_page(review_page("Neutropenia CDS: card review", reviewed, deps))
