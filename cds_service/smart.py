"""The ANC trend as a SMART on FHIR app (SMART App Launch 2.0, EHR launch), served by the service and launched from
a card's `smart` link: the EHR's endpoints from {iss}/.well-known/smart-configuration, authorisation code with PKCE
(S256) and `state` through Authlib, the patient from the token response, and the record read with that token only
from that iss -- the FHIR fallback's client and allowlist. The browser holds only an HttpOnly cookie: the session id
and a key of its own. The state, the PKCE verifier and the access token stay in the server's database and expire
with the token; the token is kept sealed with the cookie's key, so the database alone holds no usable token.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc6749.parameters import prepare_token_request
from cryptography.fernet import Fernet, InvalidToken

from cds_service.errors import ServiceError
from cds_service.fhir.client import Allowlist
from cds_service.reading import read_within
from cds_service.urls import BadUrl, Url, fhir_id, parse_url

# What the chart reads: every resource type of the patient-view prefetch, and the Medications its searches include.
# The patient is read by id; the rest are searched (tests/unit/test_smart.py keeps this list beside the prefetch).
READ_RESOURCES = ("Patient",)
SEARCHED_RESOURCES = ("Observation", "DiagnosticReport", "MedicationRequest", "MedicationAdministration",
                      "MedicationStatement", "Medication", "Procedure", "Condition")
# SMART App Launch 2.0 scopes (v2 syntax), and what a server that speaks only v1 needs instead.
SCOPES_V2 = " ".join(("launch openid fhirUser", *(f"patient/{t}.rs" for t in SEARCHED_RESOURCES),
                      *(f"patient/{t}.r" for t in READ_RESOURCES)))
SCOPES_V1 = " ".join(("launch openid fhirUser",
                      *(f"patient/{t}.read" for t in (*SEARCHED_RESOURCES, *READ_RESOURCES))))
PENDING_MINUTES = 10  # from the launch to the EHR's answer
CONFIGURATION_MAX_BYTES = 1024 * 1024  # an EHR's .well-known/smart-configuration
TOKEN_MAX_BYTES = 1024 * 1024  # an EHR's token response
DEFAULT_TOKEN_SECONDS = 300  # a token response without expires_in: kept this long at most
LONGEST_SESSION_SECONDS = 24 * 3600  # a token that lasts longer still gives a session of a day: launch again then


class LaunchRefused(ServiceError):
    """A launch or a callback the app refuses (the page says why)."""

    def __init__(self, status: int, diagnostics: str) -> None:
        super().__init__(diagnostics)
        self.status = status


@dataclass(frozen=True)
class SmartConfiguration:
    """What the app needs of an EHR's .well-known/smart-configuration."""

    authorization_endpoint: str
    token_endpoint: str
    scopes: str  # v2 when the server says it speaks it, else v1


def discover(iss: Url, http: requests.Session, timeout: float) -> SmartConfiguration:
    """{iss}/.well-known/smart-configuration; LaunchRefused (502) when absent, malformed or without PKCE S256."""
    until = time.monotonic() + timeout  # the whole read: an EHR trickling its answer holds no thread past it
    try:
        with http.get(str(iss.join(".well-known/smart-configuration")), timeout=timeout, stream=True,
                      headers={"Accept": "application/json"}, allow_redirects=False) as answer:
            answer.raise_for_status()
            document = orjson.loads(read_within(answer, CONFIGURATION_MAX_BYTES, until))
    except (requests.RequestException, ValueError) as exc:  # (TooSlow, TooLarge, not JSON)
        raise LaunchRefused(502, f"the EHR's SMART configuration could not be read: {type(exc).__name__}") from None
    if not isinstance(document, dict):
        raise LaunchRefused(502, "the EHR's SMART configuration is not a JSON object")
    endpoints = []
    for name in ("authorization_endpoint", "token_endpoint"):
        try:
            endpoints.append(str(parse_url(str(document.get(name, "")))))
        except BadUrl:
            raise LaunchRefused(502, f"the EHR's SMART configuration has no usable {name}") from None
    if "S256" not in _strings(document, "code_challenge_methods_supported"):
        raise LaunchRefused(502, "the EHR's SMART configuration does not offer PKCE S256")
    scopes = _strings(document, "scopes_supported")
    v2 = "permission-v2" in _strings(document, "capabilities") or any(s.endswith((".rs", ".r")) for s in scopes)
    return SmartConfiguration(endpoints[0], endpoints[1], SCOPES_V2 if v2 else SCOPES_V1)


def _strings(document: dict[str, Any], name: str) -> list[str]:
    """A list of strings of the SMART configuration (the strings of it; none when it is no list)."""
    value = document.get(name)
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def checked_iss(iss: str | None, allowlist: Allowlist) -> Url:
    """The launch's iss, parsed once: LaunchRefused (400) if missing or malformed, (403) if not allowlisted."""
    if not iss:
        raise LaunchRefused(400, "the launch has no iss: start the app from the EHR")
    try:
        url = parse_url(iss)
    except BadUrl as exc:
        raise LaunchRefused(400, f"the launch's iss is not an http(s) URL: {exc}") from None
    if not allowlist.allows(url):
        raise LaunchRefused(403, "this FHIR server is not on the service's allowlist")
    return url


def authorisation_url(configuration: SmartConfiguration, client_id: str, redirect_uri: str, iss: Url,
                      launch: str, state: str, code_verifier: str) -> str:
    """Where the browser goes to authorise the app: the EHR's authorization endpoint with PKCE S256 and state."""
    client = OAuth2Session(client_id, scope=configuration.scopes, redirect_uri=redirect_uri,
                           code_challenge_method="S256")
    url, _ = client.create_authorization_url(configuration.authorization_endpoint, state=state,
                                             code_verifier=code_verifier, aud=str(iss), launch=launch)
    return str(url)


def new_session(iss: Url, configuration: SmartConfiguration, now: datetime) -> dict[str, Any]:
    """A pending launch: a session id for the cookie, the state and the PKCE verifier (both high-entropy)."""
    return {
        "id": secrets.token_urlsafe(32),
        "state": secrets.token_urlsafe(32),
        "code_verifier": secrets.token_urlsafe(64),
        "iss": str(iss),
        "token_endpoint": configuration.token_endpoint,
        "expires_at": now + timedelta(minutes=PENDING_MINUTES),
    }


def new_key() -> str:
    """A session's own key: it lives in the browser's cookie only, never in the database."""
    return Fernet.generate_key().decode()


def cookie_value(session_id: str, key: str) -> str:
    return f"{session_id}.{key}"  # (neither holds a ".": token_urlsafe and urlsafe base64)


def read_cookie(value: str) -> tuple[str, str]:
    """(session id, key) from the cookie; empty strings for a cookie that is not one of ours."""
    session_id, _, key = value.partition(".")
    try:
        Fernet(key.encode())
    except ValueError:  # no key, or not a Fernet key
        return "", ""
    return (session_id, key) if session_id else ("", "")


def seal(access_token: str, key: str) -> str:
    """The access token as the database keeps it: encrypted and authenticated (Fernet) with the session's key."""
    return Fernet(key.encode()).encrypt(access_token.encode()).decode()


def unseal(sealed: str | None, key: str) -> str | None:
    """The access token, or None when there is none or the key is not the one it was sealed with."""
    if not sealed:
        return None
    try:
        return Fernet(key.encode()).decrypt(sealed.encode()).decode()
    except (InvalidToken, ValueError):  # (ValueError: a key that is no Fernet key)
        return None


@dataclass(frozen=True)
class Authorised:
    access_token: str
    patient: str
    expires_at: datetime


def exchange_code(session: dict[str, Any], code: str, client_id: str, redirect_uri: str, now: datetime,
                  http: requests.Session, timeout: float) -> Authorised:
    """The authorisation code for the access token (PKCE: the session's verifier). The token response must name the
    patient (SMART launch context); a card's appContext naming another patient is refused (403). The answer is read
    whole within `timeout`, as the SMART configuration is: an EHR trickling it holds no thread past it."""
    body = prepare_token_request("authorization_code", code=code, redirect_uri=redirect_uri, client_id=client_id,
                                 code_verifier=session["code_verifier"])
    until = time.monotonic() + timeout
    try:
        with http.post(session["token_endpoint"], data=body, timeout=timeout, stream=True, allow_redirects=False,
                       headers={"Accept": "application/json",
                                "Content-Type": "application/x-www-form-urlencoded"}) as answer:
            answer.raise_for_status()  # (an OAuth error: invalid_grant...)
            token = orjson.loads(read_within(answer, TOKEN_MAX_BYTES, until))
    except (requests.RequestException, ValueError) as exc:  # (TooSlow, TooLarge, not JSON)
        raise LaunchRefused(502, f"the EHR refused the authorisation code: {type(exc).__name__}") from None
    if not isinstance(token, dict):
        raise LaunchRefused(502, "the EHR's token response is not a JSON object")
    access_token, patient = token.get("access_token"), token.get("patient")
    if not isinstance(access_token, str) or not access_token:
        raise LaunchRefused(502, "the EHR's token response has no access token")
    try:
        patient = fhir_id(str(patient)) if patient else None
    except BadUrl:
        patient = None
    if patient is None:
        raise LaunchRefused(502, "the EHR's token response names no patient (SMART launch context)")
    expected = _app_context_patient(token.get("appContext"))
    if expected is not None and expected != patient:
        raise LaunchRefused(403, "the EHR authorised a different patient from the one the card was about")
    lifetime = token.get("expires_in")
    seconds = lifetime if type(lifetime) is int and lifetime > 0 else DEFAULT_TOKEN_SECONDS  # (a bool is no number)
    seconds = min(seconds, LONGEST_SESSION_SECONDS)
    return Authorised(access_token, patient, now + timedelta(seconds=seconds))


def _app_context_patient(app_context: Any) -> str | None:
    """The patient the card was about: the card's appContext ({"patientId": ...}), passed on by the EHR."""
    if isinstance(app_context, str):
        try:
            app_context = orjson.loads(app_context)
        except ValueError:
            return None
    value = app_context.get("patientId") if isinstance(app_context, dict) else None
    return value if isinstance(value, str) else None

