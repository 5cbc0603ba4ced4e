"""Card rendering: templates checked at start, text from the record made inert, numbers shown honestly."""

from __future__ import annotations

import dataclasses
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from cds_service.app import create_app
from cds_service.cli import main
from cds_service.clinical.assessment import assess
from cds_service.clinical.model import Finding
from cds_service.fhir.records import build_record
from cds_service.knowledge.vocabulary import Severity
from cds_service.render.cards import (
    CardTemplateError,
    count_text,
    load_templates,
    markdown_text,
    plain_text,
)
from cds_service.render.samples import FINDINGS_RENDERED
from cds_service.settings import Settings, default_cards_dir
from tests.builders import NOW, PATIENT_ID, ago, anc, bundle, hook_request, medication, observation, patient
from tests.contract import assert_cds_response


@pytest.mark.parametrize(("value", "comparator", "text"), [
    ("1499.9", None, "1,499/uL"),  # rounded down: never shown as the 1,500 it is not
    ("499.6", None, "499/uL"),
    ("99.99", None, "99/uL"),
    ("100", "<", "<100/uL"),
    ("400", "<=", "\u2264400/uL"),
    ("12345", None, "12,345/uL"),
])
def test_count_text(value: str, comparator: str | None, text: str) -> None:
    assert count_text(Decimal(value), comparator) == text


@pytest.mark.parametrize(("value", "limit", "text"), [
    ("Clozapine 25 MG Oral Tablet [Clozaril]", 48, "Clozapine 25 MG Oral Tablet [Clozaril]"),  # fits: as sent
    ("Typhoid Vaccine Live Ty21a 6800000000 UNT Delayed Release Oral Capsule [Vivotif]", 48,
     "Typhoid Vaccine Live Ty21a 6800000000 UNT\u2026"),  # cut at a word, never inside one, and said to be cut
    ("a  b\n\tc", 48, "a b c"),  # one line
    ("x" * 60, 24, "x" * 23 + "\u2026"),  # one long word: cut where it must be
    ("carboplatin, 450 MG IV", 14, "carboplatin\u2026"),  # no separator left dangling before the ellipsis
    ("<script>", 48, "\u2039script\u203a"),
])
def test_plain_text_is_short_and_says_when_it_was_cut(value: str, limit: int, text: str) -> None:
    assert plain_text(value, limit) == text
    assert len(plain_text(value, limit)) <= limit


@pytest.mark.parametrize("hostile", ["<img src=x onerror=alert(1)>", "[click](https://evil.example)", "**bold**"])
def test_markdown_text_is_inert(hostile: str) -> None:
    text = markdown_text(hostile)
    assert "<img" not in text and "](" not in text and "**" not in text


def test_hostile_unit_string_never_reaches_the_detail_as_html(tmp_path: Path) -> None:
    app = create_app(Settings(), clock=lambda: NOW)
    hostile = observation("751-8", 300, "<script>alert(1)</script>", ucum=False, when=ago(hours=1))
    response = app.test_client().post("/cds-services/neutropenia-patient-view", json=hook_request(hostile))
    (card,) = assert_cds_response(response.get_json())
    assert "<script" not in card["detail"]
    assert len(card["summary"]) <= 140


def _cards_copy(tmp_path: Path) -> Path:
    target = tmp_path / "cards"
    shutil.copytree(default_cards_dir(), target)
    return target


def test_broken_template_stops_the_service_with_the_file_named(tmp_path: Path) -> None:
    cards = _cards_copy(tmp_path)
    path = cards / "neutropenia.toml"
    path.write_text(path.read_text().replace("{{ anc.severity_title }}", "{{ anc.severity_title "))
    with pytest.raises(CardTemplateError, match=r"neutropenia\.toml"):
        create_app(Settings(cards_dir=cards))


def test_unknown_placeholder_is_caught_at_start(tmp_path: Path) -> None:
    cards = _cards_copy(tmp_path)
    path = cards / "no-current-anc.toml"
    path.write_text(path.read_text().replace("{{ anc.severity }}:", "{{ anc.sevirity }}:"))
    with pytest.raises(CardTemplateError, match=r"no-current-anc\.toml"):
        create_app(Settings(cards_dir=cards))


def test_missing_template_is_named(tmp_path: Path) -> None:
    cards = _cards_copy(tmp_path)
    (cards / "low-for-age.toml").unlink()
    with pytest.raises(CardTemplateError, match="no card template for: low-for-age"):
        create_app(Settings(cards_dir=cards))


def test_check_cards_reports_an_over_long_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cards = _cards_copy(tmp_path)
    path = cards / "neutropenia.toml"
    path.write_text(path.read_text().replace('summary = "', 'summary = "' + "Very long words " * 8, 1))
    assert main(["check-cards", "--cards-dir", str(cards)]) == 1
    assert "summary longer than 140 characters" in capsys.readouterr().err


def test_check_cards_passes_on_the_shipped_templates(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-cards"]) == 0
    assert "ok:" in capsys.readouterr().out


def test_indicators_follow_r5_and_r6(tmp_path: Path) -> None:
    app = create_app(Settings(), clock=lambda: NOW)
    renderer = app.extensions["cds_dependencies"].renderer
    assert renderer.indicator(Finding.NEUTROPENIA, Severity.MILD) == "info"
    assert renderer.indicator(Finding.NEUTROPENIA, Severity.MODERATE) == "warning"
    assert renderer.indicator(Finding.NEUTROPENIA, Severity.SEVERE) == "critical"
    assert renderer.indicator(Finding.NO_CURRENT_ANC, Severity.SEVERE) == "info"
    assert renderer.indicator(Finding.DATA_PROBLEM, None) == "info"


def test_summary_is_cut_to_140_characters_at_run_time(tmp_path: Path) -> None:
    cards = _cards_copy(tmp_path)
    app = create_app(Settings(cards_dir=cards), clock=lambda: NOW)
    renderer = app.extensions["cds_dependencies"].renderer
    template = renderer.templates["neutropenia"]
    long = template.summary.environment.from_string("x" * 300)
    renderer.templates = {**renderer.templates, "neutropenia": dataclasses.replace(template, summary=long)}
    deps = app.extensions["cds_dependencies"]
    assessment = assess(build_record(PATIENT_ID, patient(), [anc(300)], deps.knowledge), NOW, deps.knowledge)
    (card,) = renderer.cards(assessment, "https://cds.example.org")
    assert len(card["summary"]) == 140 and card["summary"].endswith("\u2026")


def test_a_missing_partial_stops_the_templates_loading(tmp_path: Path) -> None:
    cards = _cards_copy(tmp_path)
    (cards / "partials" / "trend.md").unlink()
    with pytest.raises(CardTemplateError, match=r"partials/trend\.md"):
        load_templates(cards, FINDINGS_RENDERED)


def test_a_time_sent_with_an_offset_is_shown_in_utc() -> None:
    # 01:30 at +02:00 on Nov 25 is 23:30 UTC on Nov 24: the card says so, never the local clock labelled UTC.
    body = hook_request(anc(420, when="2026-11-25T01:30:00+02:00"))
    app = create_app(Settings(), clock=lambda: NOW)
    (card,) = app.test_client().post("/cds-services/neutropenia-patient-view", json=body).get_json()["cards"]
    assert card["summary"].endswith("(Nov 24)")
    assert "Nov 24 23:30 UTC" in card["detail"]


def test_a_regimen_given_together_is_named_whole_in_whichever_order_it_was_sent(client: FlaskClient) -> None:
    """R8: carboplatin and cyclophosphamide given the same morning, 5 days ago: both are named, in one order."""
    regimen = [medication("MedicationAdministration", code, ago(days=5)) for code in ("3002", "40048")]
    details = []
    for doses in (regimen, regimen[::-1]):
        body = hook_request(anc(700))
        body["prefetch"]["medicationAdministrations"] = bundle(*doses)
        (card,) = assert_cds_response(client.post("/cds-services/neutropenia-patient-view", json=body).get_json())
        details.append(card["detail"])
    assert details[0] == details[1]
    assert "- **Chemotherapy**: carboplatin + cyclophosphamide, Nov 20 (5 days ago)" in details[0]



@pytest.mark.parametrize(("labs", "cited"), [
    ([anc(0.4, "K/whatever")], "UCUM"),  # a unit problem cites the units' code system
    ([anc(3000), observation("6690-2", 0.4, "10*3/uL")], "NCI Dictionary of Cancer Terms"),  # an ANC above the WBC
    ([anc(400, comparator=">")], "HL7 FHIR Observation"),  # a value sent only as a lower bound
])
def test_the_data_problem_card_cites_what_its_problem_is_about(client: FlaskClient, labs: list[dict[str, object]],
                                                                cited: str) -> None:
    when = ago(days=1)
    for lab in labs:
        lab["effectiveDateTime"] = when  # one collection
    (card,) = assert_cds_response(client.post("/cds-services/neutropenia-patient-view",
                                              json=hook_request(*labs)).get_json())
    assert card["extension"]["neutropenia-cds"]["finding"] == "data-problem"
    assert card["source"]["label"].startswith(cited)
