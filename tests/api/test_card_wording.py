"""The card wording of the clinical rules, on every fixture card and every sample card: the action first in bold,
few bullets, the four first precautions, honest sources, the patient handout linked, no internal rule ids."""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from flask import Flask

from cds_service.app import create_app
from cds_service.render.samples import SAMPLE_BASE_URL, sample_assessments, sample_order_risks
from cds_service.settings import Settings

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
HOOKS = ("patient-view", "order-select", "order-sign")

# What each source URL opens, and the words its label must hold to say so (reviewed by hand, one row per page).
SOURCES = {
    "https://doi.org/10.1093/cid/cir073": ("IDSA", "Freifeld"),
    "https://doi.org/10.1200/JCO.2017.77.6211": ("ASCO/IDSA 2018",),
    "https://ctep.cancer.gov/protocoldevelopment/electronic_applications/ctc.htm": ("NCI CTCAE v5.0",),
    "https://doi.org/10.1016/S0022-3476(79)80096-7": ("Manroe 1979",),
    "https://doi.org/10.1182/blood.2025029359": ("Hibbs 2025", "Blood", "Duffy-null"),
    "https://ucum.org/ucum": ("UCUM",),
    "https://hl7.org/fhir/R4/observation.html": ("HL7 FHIR Observation",),
    "https://www.cancer.gov/dictionary?CdrID=729976": ("NCI Dictionary of Cancer Terms", "absolute neutrophil count"),
    "https://www.cdc.gov/vaccines/hcp/imz-best-practices/altered-immunocompetence.html": ("CDC/ACIP",
                                                                                          "live vaccines"),
    "https://www.cdc.gov/cancer/features/preventing-infections.html": ("CDC", "preventing infections"),
}
DAILYMED = "https://dailymed.nlm.nih.gov/dailymed/search.cfm?labeltype=all&query="
INTERNAL = re.compile(r"\bR\d{1,2}(\.\d)?\b|RULES|DESIGN\.md|Neutropenia CDS|neutropenia-cds|\bPOLICY\b")
PRECAUTIONS = "**Infection precautions**"


@cache
def _app(now: datetime) -> Flask:
    return create_app(Settings(), clock=lambda: now)


def fixture_cards() -> Iterator[tuple[str, dict[str, Any]]]:
    for hook in HOOKS:
        for scenario in tomllib.loads((FIXTURES / hook / "scenarios.toml").read_text())["scenario"]:
            body = json.loads((FIXTURES / hook / f"{scenario['name']}.request.json").read_text())
            answer = _app(scenario["now"]).test_client().post(f"/cds-services/neutropenia-{hook}", json=body)
            for card in answer.get_json()["cards"]:
                yield f"{hook}/{scenario['name']}", card


def sample_cards() -> Iterator[tuple[str, dict[str, Any]]]:
    renderer = _app(datetime.fromisoformat("2026-11-25T12:00:00+00:00")).extensions["cds_dependencies"].renderer
    for name, assessment in sample_assessments():
        for card in renderer.cards(assessment, SAMPLE_BASE_URL):
            yield f"sample {name}", card
    for name, risks, assessment in sample_order_risks():
        for cbc_drafted in (False, True):
            for card in renderer.order_cards(risks, assessment, "sample-patient", SAMPLE_BASE_URL, cbc_drafted):
                yield f"sample {name}{' (CBC drafted)' if cbc_drafted else ''}", card


CARDS = [*fixture_cards(), *sample_cards()]
IDS = [f"{name} #{n}" for n, (name, _) in enumerate(CARDS)]


def test_every_finding_and_order_rule_is_among_the_cards_checked() -> None:
    findings = {card["extension"]["neutropenia-cds"]["finding"] for _, card in CARDS}
    assert findings >= {"neutropenia", "low-for-age", "no-current-anc", "duffy-null-range", "data-problem",
                        "febrile-neutropenia", "possible-febrile-neutropenia", "fever-with-neutropenia",
                        "order-risk"}
    assert len(CARDS) > 60


@pytest.mark.parametrize(("name", "card"), CARDS, ids=IDS)
def test_no_internal_rule_ids_or_project_documents_in_what_clinicians_read(name: str, card: dict[str, Any]) -> None:
    links = [link["label"] for link in card.get("links", [])]
    texts = [card["summary"], card["detail"], card["source"]["label"], *links]
    for text in texts:
        assert not INTERNAL.search(text), f"{name}: {INTERNAL.search(text)} in {text!r}"


@pytest.mark.parametrize(("name", "card"), CARDS, ids=IDS)
def test_each_source_label_names_what_its_url_opens(name: str, card: dict[str, Any]) -> None:
    cited = [card["source"], *(link for link in card.get("links", []) if link["type"] == "absolute"
                               and "/handouts/" not in link["url"])]
    for source in cited:
        url, label = source["url"], source["label"]
        if url.startswith(DAILYMED):  # a drug's labels: the label names the drug searched for
            drug = unquote(url.removeprefix(DAILYMED))
            assert label.lower().startswith(drug.lower()) and "DailyMed" in label, (name, label, url)
            continue
        assert url in SOURCES, f"{name}: {url} is not a reviewed source"
        for words in SOURCES[url]:
            assert words in label, f"{name}: {label!r} does not say it opens {url} ({words!r})"


@pytest.mark.parametrize(("name", "card"), CARDS, ids=IDS)
def test_every_clinical_card_links_the_patient_handout(name: str, card: dict[str, Any]) -> None:
    handouts = [link for link in card.get("links", []) if link["url"].endswith("/handouts/neutropenia")]
    if card["extension"]["neutropenia-cds"]["finding"] == "data-problem":
        assert handouts == []  # a data error is no clinical advice
        return
    assert len(handouts) == 1 and handouts[0]["type"] == "absolute"
    assert card["links"][0] is handouts[0]


@pytest.mark.parametrize(("name", "card"), [(n, c) for n, c in CARDS if not n.startswith("sample")],
                         ids=[n for n, _ in CARDS if not n.startswith("sample")])
def test_every_clinical_card_links_the_anc_trend_app(name: str, card: dict[str, Any]) -> None:
    apps = [link for link in card.get("links", []) if link["type"] == "smart"]
    if card["extension"]["neutropenia-cds"]["finding"] == "data-problem":
        assert apps == []
        return
    (app,) = apps
    assert app["label"] == "View the ANC trend" and app["url"].endswith("/smart/launch")
    assert json.loads(app["appContext"])["patientId"]  # the card's patient: the app refuses another


@pytest.mark.parametrize(("name", "card"), CARDS, ids=IDS)
def test_the_detail_is_short_with_the_action_first_in_bold(name: str, card: dict[str, Any]) -> None:
    detail = card["detail"]
    first = detail.split("\n\n")[0]
    assert first.startswith("**") and "**" in first[2:], f"{name}: the action is not first, in bold: {first!r}"
    facts, _, precautions = detail.partition(PRECAUTIONS)
    bullets = [line for line in facts.splitlines() if line.startswith("- ")]
    # a fixture is a real record: about six at most; a sample is a worst case with every note and context at once
    if not name.startswith("sample order-risk every row"):  # (every rule and reason in one order: every branch)
        assert len(bullets) <= (12 if name.startswith("sample") else 6), f"{name}: {len(bullets)} bullets"
    assert "Classification" not in detail and "grade" not in detail.lower()  # schemes live in the assessment
    if precautions:
        lines = [line for line in precautions.splitlines()[1:] if line.strip()]
        assert len(lines) == 4 and all(line.startswith("- ") for line in lines), lines
        assert "100.4 °F / 38.0 °C or higher is an emergency" in lines[0]


def test_clinical_cards_give_the_precautions_and_order_cards_do_not() -> None:
    for name, card in CARDS:
        finding = card["extension"]["neutropenia-cds"]["finding"]
        if finding in {"neutropenia", "febrile-neutropenia", "fever-with-neutropenia", "possible-febrile-neutropenia",
                       "no-current-anc"}:
            assert PRECAUTIONS in card["detail"], name
        if finding in {"order-risk", "data-problem", "duffy-null-range"}:
            assert PRECAUTIONS not in card["detail"], name
