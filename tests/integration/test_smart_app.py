"""The ANC trend app as it runs in an EHR: `neutropenia-cds serve`, a real OAuth 2.0 / OpenID Connect authorisation
server (oidc-provider, with the SMART launch context and .well-known/smart-configuration) in front of the Medplum FHIR
test server, and Chromium driven headless from the EHR launch through authorisation to the chart. All on 127.0.0.1."""

from __future__ import annotations

import json
import select
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
import requests
from playwright.sync_api import BrowserContext, ConsoleMessage, Page

from tests.integration.conftest import (
    ARTEFACTS,
    PEERS,
    STARTUP_SECONDS,
    fixture_request,
    load,
    node_command,
    resources_of,
    running_service,
    stop,
)

SCENARIO = ("patient-view", "falling-trend")  # three ANCs a week apart: 1,800, 1,200 and 800/uL
PATIENT = "pat-1"  # its patientId
POINTS = 3


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("smart-app-data")


@pytest.fixture(scope="module")
def app_service(data_dir: Path) -> Iterator[str]:
    """The service as `make serve` runs it (dev profile: the SMART app on, 127.0.0.1 on its FHIR allowlist)."""
    with running_service({"NEUTROPENIA_CDS_DATA_DIR": str(data_dir)}) as (url, _):
        yield url


def _smart_server(fhir_server: str, redirect: str, token_ttl: int) -> Iterator[str]:
    process = subprocess.Popen(
        node_command("smart_server.mjs", "--port", "0", "--fhir", f"{fhir_server}/fhir/R4", "--redirect", redirect,
                     "--token-ttl", str(token_ttl)),
        cwd=PEERS, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + STARTUP_SECONDS
        line = ""
        while not line.startswith("listening ") and time.monotonic() < deadline:
            ready, _, _ = select.select([process.stdout], [], [], 1)
            line = process.stdout.readline().decode() if ready else line
            if process.poll() is not None:
                break
        if not line.startswith("listening "):
            pytest.fail(f"the SMART authorisation server did not start: {line}")
        yield f"http://127.0.0.1:{int(line.split()[1])}"
    finally:
        stop(process)


@pytest.fixture(scope="module")
def ehr(fhir_server: str, app_service: str) -> Iterator[str]:
    """The EHR's authorisation server (tokens for 5 minutes), the fixture patient loaded in its FHIR server."""
    load(fhir_server, resources_of(fixture_request(*SCENARIO)))
    yield from _smart_server(fhir_server, f"{app_service}/smart/callback", 300)


@pytest.fixture(scope="module")
def short_lived_ehr(fhir_server: str, app_service: str, ehr: str) -> Iterator[str]:
    """The same EHR handing out tokens that expire after 3 seconds."""
    yield from _smart_server(fhir_server, f"{app_service}/smart/callback", 3)


def _launch(ehr: str, patient: str = PATIENT, app_context_patient: str = PATIENT) -> str:
    """The EHR starts a launch of the app for a patient, with the card's appContext, as a SMART link would."""
    answer = requests.post(f"{ehr}/ehr/launch", json={
        "patient": patient, "appContext": json.dumps({"patientId": app_context_patient})}, timeout=5)
    assert answer.status_code == 200
    return str(answer.json()["launch"])


def _through_authorisation(chromium: BrowserContext, app_service: str, ehr: str, launch: str,
                           ) -> tuple[Page, list[str]]:
    """Chromium from the EHR launch URL through the EHR's login to wherever the app sends it."""
    page = chromium.new_page()
    errors: list[str] = []

    def console(message: ConsoleMessage) -> None:
        if message.type == "error" and page.url.startswith(app_service):
            errors.append(message.text)

    page.on("console", console)
    page.on("pageerror", lambda error: errors.append(str(error)))
    query = urlencode({"iss": f"{ehr}/fhir", "launch": launch})
    sent_to: list[str] = []
    page.on("request", lambda request: sent_to.append(request.url) if request.is_navigation_request() else None)
    page.goto(f"{app_service}/smart/launch?{query}", wait_until="load", timeout=30_000)
    assert any(url.startswith(f"{ehr}/auth?") for url in sent_to), "the app did not send the browser to the EHR"
    if page.url.startswith(ehr):  # the EHR's login (oidc-provider's form: any name); signed in already, it is skipped
        page.fill("input[name=login]", "dr-ward")
        page.fill("input[name=password]", "any")
        with page.expect_navigation(url=lambda url: url.startswith(app_service), timeout=30_000):
            page.click("button[type=submit]")
        page.wait_for_load_state("load")
    return page, errors


def test_a_card_link_launches_the_chart_of_that_patient(chromium: BrowserContext, app_service: str, ehr: str,
                                                        data_dir: Path) -> None:
    # the card's own link: what the EHR launches
    body = fixture_request(*SCENARIO)
    cards = requests.post(f"{app_service}/cds-services/neutropenia-patient-view", json=body, timeout=10).json()
    (link,) = [link for card in cards["cards"] for link in card.get("links", []) if link["type"] == "smart"]
    assert link["url"] == f"{app_service}/smart/launch" and json.loads(link["appContext"]) == {"patientId": PATIENT}

    page, errors = _through_authorisation(chromium, app_service, ehr, _launch(ehr))
    try:
        assert page.url == f"{app_service}/smart/chart"
        section = page.locator("section.scenario")
        assert section.count() == 1 and section.locator("h2").inner_text() == f"Patient {PATIENT}"
        chart = section.get_attribute("data-chart")
        assert section.locator(f"svg g[id='{chart}-anc'] use").count() == POINTS
        # the same assessment the card gave (R5: 800/uL is moderate), from the same clinical core
        assert section.locator("article.card .summary").all_inner_texts() == [c["summary"] for c in cards["cards"]]
        assert cards["cards"][0]["summary"] == "Moderate neutropenia: ANC 800/uL (Nov 24)"
        # the app's scopes let it read every kind of data the card read (an EHR refuses a type it has no scope for)
        detail = section.locator("article.card .detail").inner_text()
        assert "Read only in part" not in detail and "Not available to this check" not in detail
        assert section.locator("a", has_text="Patient handout").count() == 1
        page.screenshot(path=str(ARTEFACTS / "smart-app-chart.png"), full_page=True)
        assert errors == []
        # the token stayed on the server: nothing in the browser's storage, the URL or a readable cookie
        assert page.evaluate("() => localStorage.length + sessionStorage.length") == 0
        assert page.evaluate("() => document.cookie") == ""
        (cookie,) = [c for c in chromium.cookies(f"{app_service}/smart/chart") if c["name"] == "neutropenia_cds_smart"]
        assert cookie["httpOnly"] and len(cookie["value"]) >= 40
        # the database keeps the token sealed with the cookie's key: a copy of the database is no token for the EHR
        with sqlite3.connect(data_dir / "feedback.sqlite3") as database:
            (sealed,) = database.execute("SELECT access_token FROM smart_sessions WHERE access_token IS NOT NULL"
                                         ).fetchone()
        assert sealed.startswith("gAAAA")  # (Fernet)
        refused = requests.get(f"{ehr}/fhir/Patient/{PATIENT}", headers={"Authorization": f"Bearer {sealed}"},
                               timeout=5)
        assert refused.status_code == 401
        cookie_id = cookie["value"].partition(".")[0]
        forged = requests.get(f"{app_service}/smart/chart", cookies={"neutropenia_cds_smart": cookie_id}, timeout=5)
        assert forged.status_code == 401  # the session id without its key opens nothing
    finally:
        page.close()


def test_an_iss_off_the_allowlist_is_refused(app_service: str) -> None:
    answer = requests.get(f"{app_service}/smart/launch", params={"iss": "https://fhir.example.org/r4", "launch": "x"},
                          timeout=5, allow_redirects=False)
    assert answer.status_code == 403 and "allowlist" in answer.text


def test_an_answer_with_another_state_is_refused(app_service: str, ehr: str) -> None:
    browser = requests.Session()
    started = browser.get(f"{app_service}/smart/launch", params={"iss": f"{ehr}/fhir", "launch": _launch(ehr)},
                          timeout=5, allow_redirects=False)
    assert started.status_code == 302 and "code_challenge_method=S256" in started.headers["Location"]
    assert "state=" in started.headers["Location"] and "aud=" in started.headers["Location"]
    assert "scope=launch+openid+fhirUser+patient%2FObservation.rs" in started.headers["Location"]  # SMART v2 scopes
    forged = browser.get(f"{app_service}/smart/callback", params={"code": "stolen", "state": "guessed"}, timeout=5,
                         allow_redirects=False)
    assert forged.status_code == 400 and "state" in forged.text
    assert browser.get(f"{app_service}/smart/chart", timeout=5).status_code == 401  # and the launch is closed


def test_a_token_for_another_patient_is_refused(chromium: BrowserContext, app_service: str, ehr: str) -> None:
    # the card was about pat-1; the EHR authorises the app for someone else
    page, _ = _through_authorisation(chromium, app_service, ehr, _launch(ehr, patient="pat-2",
                                                                        app_context_patient=PATIENT))
    try:
        assert "different patient" in page.locator("body").inner_text()
        assert page.locator("svg").count() == 0
        response = page.request.get(f"{app_service}/smart/chart")
        assert response.status == 401
    finally:
        page.close()


def test_an_expired_token_is_refused(chromium: BrowserContext, app_service: str, short_lived_ehr: str) -> None:
    page, _ = _through_authorisation(chromium, app_service, short_lived_ehr, _launch(short_lived_ehr))
    try:
        assert page.locator("section.scenario").count() == 1  # shown while the token lives
        time.sleep(3.5)
        response = page.request.get(f"{app_service}/smart/chart")
        assert response.status == 401 and "expired" in response.text()
    finally:
        page.close()
