"""create_app(settings): the Flask application factory -- wires the parts together, holds no logic."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime

import requests
from flask import Flask
from flask_cors import CORS

from cds_service.feedback.recorder import CardRecorder
from cds_service.feedback.store import FeedbackStore
from cds_service.fhir.client import Allowlist, FhirClient, FhirLimits
from cds_service.http.errors import register_error_handlers
from cds_service.http.openapi import openapi_document
from cds_service.http.pages import pages
from cds_service.http.routes import blueprint
from cds_service.http.smart import smart
from cds_service.knowledge import Knowledge, load_knowledge, parse_system_codes
from cds_service.metrics import register_metrics
from cds_service.observability import observe_calls
from cds_service.render.cards import CardRenderer, load_templates
from cds_service.render.pages import handout_page
from cds_service.render.samples import FINDINGS_RENDERED, check_templates
from cds_service.security.jwt_auth import TokenVerifier
from cds_service.security.replay import replay_cache
from cds_service.services import ServiceDependencies, declare_services
from cds_service.settings import Settings
from cds_service.terminology import TerminologyService


def _utc_now() -> datetime:
    return datetime.now(UTC)


def cors_origins(entries: tuple[str, ...]) -> list[str | re.Pattern[str]]:
    """Each configured origin as flask-cors takes it: a plain origin compared exactly, a pattern (any regular
    expression syntax) anchored at both ends -- flask-cors alone matches a pattern as a prefix, so
    "http://localhost(:\\d+)?" would let "http://localhost.evil.example" in."""
    return [re.compile(f"^(?:{entry})$") if _REGEX_SYNTAX.search(entry) else entry for entry in entries]


_REGEX_SYNTAX = re.compile(r"[\\*?+()\[\]{}^$|]")


def site_knowledge(settings: Settings) -> Knowledge:
    """The shipped knowledge with this site's configuration applied (R6 windows, R8 Duffy-null codes, time zone)."""
    return load_knowledge().configured(
        current_window_days=settings.current_window_days,
        lookback_days=settings.lookback_days,
        duffy_null_codes=parse_system_codes(settings.duffy_null_codes),
        zone=settings.zone,
    )


def create_app(settings: Settings | None = None, clock: Callable[[], datetime] | None = None) -> Flask:
    """The service, with knowledge and card templates loaded and checked once, before any request."""
    settings = settings or Settings.load()
    knowledge = site_knowledge(settings)
    renderer = CardRenderer(load_templates(settings.cards_dir, FINDINGS_RENDERED), knowledge,
                            smart_launch=bool(settings.smart_client))
    check_templates(renderer)
    if clock is None:
        fixed = settings.fixed_now
        clock = (lambda: fixed) if fixed is not None else _utc_now

    app = Flask("cds_service")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.extensions["cds_settings"] = settings
    app.extensions["cds_services"] = services = declare_services(knowledge)
    app.extensions["cds_openapi"] = openapi_document(services)
    limits = FhirLimits(
        connect_timeout=settings.fhir_connect_timeout,
        read_timeout=settings.fhir_read_timeout,
        budget_seconds=settings.fhir_budget_seconds,
        max_pages=settings.fhir_max_pages,
        max_response_bytes=settings.fhir_max_response_bytes,
    )
    # a search thread for every search the worker's calls can make at once (one per prefetch key each): a call
    # waiting on a slow FHIR server never holds up another call's fallback
    searches = max(len(service.prefetch) for service in services.values())
    fhir = FhirClient(Allowlist(settings.fhir_allowlist), limits, workers=settings.threads * searches)
    store = FeedbackStore.for_settings(settings.database_url, settings.data_dir)
    store.migrate()
    store.close()  # no pooled connection may cross gunicorn's fork; each worker opens its own
    terminology = TerminologyService(
        settings.terminology_url, store, knowledge.context.rxnorm, settings.terminology_budget_seconds,
        settings.terminology_max_lookups) if settings.terminology_url else None
    app.extensions["cds_dependencies"] = ServiceDependencies(
        knowledge=knowledge, renderer=renderer, clock=clock, fhir=fhir, fhir_lookback_days=settings.fhir_lookback_days,
        terminology=terminology, base_url=settings.public_base_url or f"http://{settings.host}:{settings.port}")
    app.extensions["cds_verifier"] = TokenVerifier(
        settings.issuers, replay_cache(settings.replay_cache_url, store), settings.jwt_leeway_seconds)
    # always_send=False: a request without an Origin (an EHR's server, not a browser) gets no CORS headers at all
    CORS(app, origins=cors_origins(settings.cors), allow_headers=["Authorization", "Content-Type"],
         methods=["GET", "POST", "OPTIONS"], max_age=600, allow_private_network=settings.cors_allows_private_network,
         always_send=False)
    app.extensions["cds_feedback"] = store
    app.extensions["cds_card_recorder"] = CardRecorder(store)
    app.extensions["cds_handout"] = handout_page(settings.cards_dir)
    app.register_blueprint(blueprint)
    app.register_blueprint(pages)
    app.register_blueprint(smart)
    app.extensions["cds_smart_http"] = requests.Session()  # SMART discovery and the token exchange
    register_error_handlers(app)
    register_metrics(app)
    observe_calls(app)
    return app
