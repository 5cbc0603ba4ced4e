"""Routes: discovery, the hook endpoints and health. Each reads the request, calls the service, writes JSON."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

import orjson
from flask import Blueprint, Response, current_app, request
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import RequestEntityTooLarge

from cds_service.errors import BadRequest, NotFound, StoreUnavailable, Unauthenticated
from cds_service.feedback.model import parse_feedback, since_moment
from cds_service.feedback.recorder import CardRecorder
from cds_service.feedback.store import FeedbackStore
from cds_service.fhir.hook_request import parse_hook_request
from cds_service.fhir.wire import decode_hook_body, loads, unmarked
from cds_service.http.errors import remember_hook_instance
from cds_service.http.reached import base_url, call_dependencies
from cds_service.metrics import CARDS, FEEDBACK
from cds_service.security.jwt_auth import TokenVerifier, Unauthorized
from cds_service.services import CdsService, answer
from cds_service.settings import Settings
from cds_service.smart import SCOPES_V1, SCOPES_V2

log = logging.getLogger(__name__)
blueprint = Blueprint("cds", __name__)


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status=status, mimetype="application/json")


def _services() -> dict[str, CdsService]:
    services: dict[str, CdsService] = current_app.extensions["cds_services"]
    return services


def _request_body() -> bytes:
    """The body as sent, less a UTF-8 byte order mark."""
    return unmarked(_read_body())


def _read_body() -> bytes:
    # JSON only, never a body without a type or of a form's type: a browser sends those cross-site without asking
    # (no CORS preflight), so a page the clinician visits could post hook calls or feedback to a service on localhost
    mimetype = request.mimetype or ""
    if mimetype != "application/json" and not mimetype.endswith("+json"):
        raise BadRequest(f"Content-Type must be application/json, not {mimetype or 'missing'}")
    if request.content_length is not None:
        return request.get_data(cache=False)  # a declared length over the limit is a 413 before anything is read
    # A chunked (or streamed) body declares no length: Werkzeug would cut it at the limit and pass on what it read.
    # Read one byte past the limit instead, so a body over it is a 413, never a truncated document.
    limit = int(current_app.config["MAX_CONTENT_LENGTH"])
    body = request.environ["wsgi.input"].read(limit + 1)
    if len(body) > limit:
        raise RequestEntityTooLarge()
    return bytes(body)


def _request_json() -> Any:
    try:
        return loads(_request_body())
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"the request body is not valid JSON: {exc}") from None


@blueprint.before_request
def authenticate() -> None:
    """CDS Hooks 2.0 security on discovery, service and feedback calls (not on CORS preflight or health)."""
    settings: Settings = current_app.extensions["cds_settings"]
    header = request.environ.get("HTTP_AUTHORIZATION", "")  # (the environ itself: no headers view built per call)
    if not header and not settings.require_jwt:
        return  # no token, and none required, on any path
    if request.method == "OPTIONS" or not request.path.startswith(("/cds-services", "/feedback")):
        return
    if not header:
        raise Unauthenticated("no Authorization header")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Authorization is not a Bearer token")
    base = base_url()
    verifier: TokenVerifier = current_app.extensions["cds_verifier"]
    try:
        verifier.verify(token.strip(), audience=base + request.path)
    except Unauthorized as exc:
        raise Unauthenticated(str(exc)) from None


# (a URL registered with a trailing slash reaches the same endpoints)
@blueprint.get("/cds-services", strict_slashes=False)
def discovery() -> Response:
    services = [s.discovery() for s in _services().values()]
    settings: Settings = current_app.extensions["cds_settings"]
    if settings.smart_client:  # how an EHR registers the ANC trend app its cards launch (README, "The ANC trend app")
        base = base_url()
        app = {"clientId": settings.smart_client, "launchUrl": f"{base}/smart/launch",
               "redirectUri": f"{base}/smart/callback", "launch": "ehr", "clientType": "public",
               "pkce": "S256", "scopes": SCOPES_V2, "scopesV1": SCOPES_V1}
        for service in services:
            service["extension"] = {"neutropenia-cds": {"smartApp": app}}
    return _json({"services": services})


@blueprint.post("/cds-services/<service_id>", strict_slashes=False)
def call_service(service_id: str) -> Response:
    service = _services().get(service_id)
    if service is None:
        raise NotFound(f"no CDS service '{service_id}'; the services are listed at GET /cds-services")
    started = time.perf_counter()
    body = decode_hook_body(_request_body())
    remember_hook_instance(body)
    hook_request = parse_hook_request(body, service.hook, service.required_context, service.drafts)
    cards = answer(service, hook_request, call_dependencies())
    for card in cards:
        CARDS.labels(card["indicator"], card["extension"]["neutropenia-cds"]["finding"]).inc()
    if cards:
        recorder: CardRecorder = current_app.extensions["cds_card_recorder"]
        recorder.record(service.id, hook_request.hook_instance, cards, datetime.now(UTC))
    # debug, not info: under gunicorn the root logger is at INFO, so an info line builds a log record on every call
    # (~30 us, more than a tenth of a small record's whole cost) even where no handler ever writes it
    log.debug("service=%s cards=%d ms=%.1f", service.id, len(cards), (time.perf_counter() - started) * 1000)
    return _json({"cards": cards})


@blueprint.post("/cds-services/<service_id>/feedback", strict_slashes=False)
def feedback(service_id: str) -> Response:
    """CDS Hooks 2.0 feedback: 200 only once every item is committed to the store."""
    if service_id not in _services():
        raise NotFound(f"no CDS service '{service_id}'; the services are listed at GET /cds-services")
    items = parse_feedback(_request_json())
    recorder: CardRecorder = current_app.extensions["cds_card_recorder"]
    recorder.flush()  # cards this worker showed a moment ago are on record before their feedback
    store: FeedbackStore = current_app.extensions["cds_feedback"]
    try:
        counts = store.store_feedback(service_id, items, datetime.now(UTC))
    except SQLAlchemyError:
        log.exception("feedback for service %s could not be stored", service_id)
        raise StoreUnavailable("feedback could not be stored; send it again") from None
    FEEDBACK.labels("stored").inc(counts["stored"])
    FEEDBACK.labels("duplicate").inc(counts["duplicates"])
    return _json(counts)


@blueprint.get("/feedback/summary")
def feedback_summary() -> Response:
    since = request.args.get("since")
    try:
        moment = since_moment(since) if since else None
    except ValueError:
        raise BadRequest("since must be an ISO 8601 date or date-time") from None
    store: FeedbackStore = current_app.extensions["cds_feedback"]
    try:
        return _json(store.summary(moment))
    except SQLAlchemyError:
        log.exception("the feedback summary could not be read")
        raise StoreUnavailable("the feedback store could not be read; ask again") from None


@blueprint.get("/openapi.json")
def openapi() -> Response:
    return _json(current_app.extensions["cds_openapi"])


@blueprint.get("/healthz")
def healthz() -> Response:
    return _json({"status": "ok"})
