"""The SMART app's routes: /smart/launch (the EHR launch), /smart/callback (the redirect URI), /smart/chart."""

from __future__ import annotations

import hashlib
import hmac
import logging
from datetime import UTC, datetime

import requests
from flask import Blueprint, Response, current_app, redirect, request
from markupsafe import escape
from werkzeug.wrappers import Response as BaseResponse

from cds_service.errors import ServiceError
from cds_service.feedback.store import FeedbackStore
from cds_service.fhir.client import Allowlist
from cds_service.fhir.hook_request import HookRequest
from cds_service.http.pages import html_page
from cds_service.http.reached import call_dependencies
from cds_service.review import Reviewed, review_page
from cds_service.services import ServiceDependencies, assess_patient, patient_data
from cds_service.settings import Settings
from cds_service.smart import (
    LaunchRefused,
    authorisation_url,
    checked_iss,
    cookie_value,
    discover,
    exchange_code,
    new_key,
    new_session,
    read_cookie,
    seal,
    unseal,
)
from cds_service.urls import parse_url

log = logging.getLogger(__name__)
smart = Blueprint("smart", __name__)
COOKIE = "neutropenia_cds_smart"  # the session id and its key: the token never leaves the server
PATIENT_VIEW = "neutropenia-patient-view"


def _settings() -> Settings:
    settings: Settings = current_app.extensions["cds_settings"]
    if not settings.smart_client:
        raise LaunchRefused(404, "the SMART app is off (setting smart_client_id)")
    return settings


def _store() -> FeedbackStore:
    store: FeedbackStore = current_app.extensions["cds_feedback"]
    return store


def _redirect_uri(deps: ServiceDependencies) -> str:
    return deps.base_url + "/smart/callback"


def _with_session_cookie(response: BaseResponse, session_id: str, key: str, deps: ServiceDependencies,
                         expires: datetime | None = None) -> BaseResponse:
    """The session id and its key in an HttpOnly cookie for the app's paths only (Secure where the service is
    reached by https)."""
    response.set_cookie(COOKIE, cookie_value(session_id, key), httponly=True, samesite="Lax", path="/smart",
                        expires=expires, secure=deps.base_url.startswith("https://"))
    return response


@smart.errorhandler(ServiceError)
def refused(error: ServiceError) -> Response:
    """A person reads these: a short page, never the token or the code."""
    log.warning("SMART app refused (%d): %s", error.status, error.diagnostics)
    body = (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>ANC trend</title>"
            f"<link rel=\"icon\" href=\"data:,\"></head><body><h1>The ANC trend cannot be shown</h1>"
            f"<p>{escape(error.diagnostics)}</p></body></html>")
    response = html_page(body)
    response.status_code = error.status
    return response


@smart.get("/smart/launch")
def launch() -> BaseResponse:
    """SMART EHR launch: check iss, discover its endpoints, keep state and the PKCE verifier server-side, and send
    the browser to the EHR's authorization endpoint."""
    settings = _settings()
    deps = call_dependencies()
    allowlist = deps.fhir.allowlist if deps.fhir is not None else Allowlist(())
    iss = checked_iss(request.args.get("iss"), allowlist)
    launch_id = request.args.get("launch")
    if not launch_id:
        raise LaunchRefused(400, "the launch has no launch parameter: start the app from the EHR")
    http: requests.Session = current_app.extensions["cds_smart_http"]
    configuration = discover(iss, http, settings.fhir_read_timeout)
    now = datetime.now(UTC)
    session = new_session(iss, configuration, now)
    _store().open_smart_session(session, now)
    target = authorisation_url(configuration, settings.smart_client, _redirect_uri(deps), iss, launch_id,
                               session["state"], session["code_verifier"])
    return _with_session_cookie(redirect(target, 302), session["id"], new_key(), deps)


@smart.get("/smart/callback")
def callback() -> BaseResponse:
    """The redirect URI: the state must be this browser's launch's; the code is exchanged server-side."""
    settings = _settings()
    deps = call_dependencies()
    store = _store()
    now = datetime.now(UTC)
    session_id, key = read_cookie(request.cookies.get(COOKIE, ""))
    session = store.smart_session(session_id, now)
    if session is None or not session["state"]:
        raise LaunchRefused(400, "no launch of this browser is waiting for the EHR: start the app from the EHR")
    if not hmac.compare_digest(request.args.get("state", ""), session["state"]):
        store.close_smart_session(session["id"])
        raise LaunchRefused(400, "the answer's state is not this launch's: start the app from the EHR again")
    if "error" in request.args or not request.args.get("code"):
        store.close_smart_session(session["id"])
        raise LaunchRefused(403, f"the EHR did not authorise the app ({request.args.get('error', 'no code')})")
    try:
        authorised = exchange_code(session, request.args["code"], settings.smart_client, _redirect_uri(deps), now,
                                   current_app.extensions["cds_smart_http"], settings.fhir_read_timeout)
    except LaunchRefused:
        store.close_smart_session(session["id"])
        raise
    store.authorise_smart_session(session["id"], seal(authorised.access_token, key), authorised.patient,
                                  authorised.expires_at)
    return _with_session_cookie(redirect("/smart/chart", 303), session["id"], key, deps, authorised.expires_at)


@smart.get("/smart/chart")
def chart() -> Response:
    """The launched patient's ANC trend and assessment, read with the session's token from its iss only."""
    _settings()  # (404 when the app is off)
    deps = call_dependencies()
    session_id, key = read_cookie(request.cookies.get(COOKIE, ""))
    session = _store().smart_session(session_id, datetime.now(UTC))
    access_token = unseal(session["access_token"], key) if session is not None else None
    if session is None or access_token is None:
        raise LaunchRefused(401, "no authorised launch, or it has expired: open the app again from the EHR")
    patient = session["patient"]
    hook_request = HookRequest(
        hook="smart-launch", hook_instance=hashlib.sha256(session["id"].encode()).hexdigest()[:16],  # (logs only)
        context={"patientId": patient},
        fhir_server=parse_url(session["iss"]),
        fhir_authorization={"access_token": access_token, "token_type": "Bearer"}, prefetch={})
    service = current_app.extensions["cds_services"][PATIENT_VIEW]
    data = patient_data(hook_request, service, deps)
    if not isinstance(data.patient, dict) or data.patient.get("id") != patient:
        raise LaunchRefused(403, "the FHIR server did not answer with the launched patient")
    assessment = assess_patient(hook_request, data, deps)
    cards = deps.renderer.cards(assessment, deps.base_url)
    reviewed = Reviewed(f"Patient {patient}", "SMART on FHIR", f"Read from {session['iss']} with the EHR's "
                        "authorisation, read-only; the same assessment the card gave.", deps.clock(), cards,
                        assessment)
    return html_page(review_page("ANC trend", [reviewed], deps, intro=(
        "The patient's ANC over time against the lower limit for age, the severity bands (severe, moderate, mild), "
        "chemotherapy doses and fever readings, and the card this assessment gives.")))
