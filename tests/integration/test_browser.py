"""The review page and the patient handout in a real browser: Debian's Chromium, driven headless by Playwright,
against `neutropenia-cds serve` on 127.0.0.1. Screenshots are kept in build/test-artefacts/ (not committed)."""

from __future__ import annotations

import io
import tomllib
from collections.abc import Iterator

import pytest
from playwright.sync_api import BrowserContext, ConsoleMessage, Page
from pypdf import PdfReader

from tests.integration.conftest import ARTEFACTS, FIXTURES

HOOKS = ("patient-view", "order-select", "order-sign")
# A card must fit the card pane of the CDS Hooks Sandbox in a 1280x1000 window: below its header and patient banner
# (268 px), 732 px are left, at the 564 px card width beside the developer panel. The review page lays a card out as
# the Sandbox does (that width, 16 px type, summary and source first, links, a Dismiss row) and measures a little
# higher than the Sandbox itself (checked by hand: the febrile-neutropenia card 708 px here, 701 px in the Sandbox;
# the clozapine one 725 and 719).
PANE_HEIGHT = 1000 - 268
CARD_WIDTH = 564


def _open(browser: BrowserContext, url: str) -> tuple[Page, list[str], list[str]]:
    """A new page at `url`; the console errors and every URL it requested, as they come."""
    page = browser.new_page()
    errors: list[str] = []
    requested: list[str] = []

    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    page.on("console", console)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("request", lambda request: requested.append(request.url))
    page.goto(url, wait_until="load", timeout=60_000)
    return page, errors, requested


@pytest.fixture(scope="module")
def review(live_service: str, chromium: BrowserContext) -> Iterator[tuple[Page, list[str], list[str]]]:
    """The review page, opened once (it evaluates every fixture scenario and draws its chart)."""
    page, errors, requested = _open(chromium, f"{live_service}/preview")
    yield page, errors, requested
    page.close()


def _scenario_count() -> int:
    return sum(len(tomllib.loads((FIXTURES / hook / "scenarios.toml").read_text())["scenario"]) for hook in HOOKS)


def test_the_review_page_loads_cleanly_and_every_card_fits_the_pane(
        live_service: str, review: tuple[Page, list[str], list[str]]) -> None:
    page, errors, requested = review
    assert page.locator("section.scenario").count() == _scenario_count()
    heights = page.eval_on_selector_all("article.card", "cards => cards.map(c => c.getBoundingClientRect().height)")
    assert len(heights) >= 40
    assert max(heights) <= PANE_HEIGHT, f"a card is {max(heights):.0f} px high"
    widths = page.eval_on_selector_all("article.card", "cards => cards.map(c => c.getBoundingClientRect().width)")
    assert set(widths) == {CARD_WIDTH}
    page.screenshot(path=str(ARTEFACTS / "review-page.png"))
    page.locator("#patient-view-febrile-neutropenia-chemotherapy").screenshot(
        path=str(ARTEFACTS / "review-febrile-neutropenia.png"))
    assert errors == []
    assert all(url.startswith(live_service) for url in requested)  # nothing fetched from elsewhere


# Points each scenario's chart must show: the dated ANC collections of its request (read from the fixture by hand).
@pytest.mark.parametrize(("scenario", "points", "chemotherapy", "fever"), [
    ("patient-view-falling-trend", 3, False, False),  # 1,800, 1,200, 800 a week apart
    ("patient-view-normal-adult", 1, False, False),
    ("patient-view-febrile-neutropenia-chemotherapy", 1, True, True),  # ANC 800, carboplatin 9 days before, 38.3 C
    ("patient-view-computed-wbc-neutrophil-percent", 1, False, False),  # WBC and % of one collection: one ANC
])
def test_the_chart_shows_each_anc_and_marks_chemotherapy_and_fever(
        review: tuple[Page, list[str], list[str]], scenario: str, points: int, chemotherapy: bool,
        fever: bool) -> None:
    page, errors, _ = review
    section = page.locator(f"section#{scenario}")
    chart = section.get_attribute("data-chart")
    assert section.locator(f"svg g[id='{chart}-anc'] use").count() == points
    assert section.locator(f"svg g[id='{chart}-lln']").count() == 1
    assert (section.locator(f"svg g[id='{chart}-chemotherapy']").count() == 1) is chemotherapy
    assert (section.locator(f"svg g[id='{chart}-fever'] use").count() >= 1) is fever
    assert section.locator("svg").bounding_box() is not None  # drawn, not only in the markup
    assert errors == []


def test_the_handout_renders_and_prints_on_two_pages_at_most(live_service: str, chromium: BrowserContext) -> None:
    page, errors, requested = _open(chromium, f"{live_service}/handouts/neutropenia")
    try:
        assert page.locator("h1").inner_text() == "Neutropenia: how to avoid infection"
        page.screenshot(path=str(ARTEFACTS / "handout.png"), full_page=True)
        for paper in ("A4", "Letter"):
            pdf = page.pdf(format=paper, print_background=True)
            (ARTEFACTS / f"handout-{paper}.pdf").write_bytes(pdf)
            assert 1 <= len(PdfReader(io.BytesIO(pdf)).pages) <= 2, paper
        assert errors == []
        assert all(url.startswith(live_service) for url in requested)
    finally:
        page.close()


def test_a_card_links_the_handout_it_serves(live_service: str, chromium: BrowserContext) -> None:
    page, errors, _ = _open(chromium, f"{live_service}/preview")
    try:
        link = page.locator("#patient-view-severe-adult-499 article.card .links a").first
        assert link.inner_text().startswith("Patient handout")
        link.click()
        page.wait_for_load_state("load")
        assert page.url == f"{live_service}/handouts/neutropenia"
        assert page.locator("h1").inner_text() == "Neutropenia: how to avoid infection"
        assert errors == []
    finally:
        page.close()
