"""The patient handout and the review page, through the Flask app (the browser checks are in
tests/integration/test_browser.py)."""

from __future__ import annotations

import html
import json
import re
import tomllib
from pathlib import Path

import pytest
import textstat
from flask.testing import FlaskClient
from markupsafe import escape

from cds_service.app import create_app
from cds_service.cli import main
from cds_service.settings import Settings, default_cards_dir

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
HOOKS = ("patient-view", "order-select", "order-sign")
NO_SCRIPT_OR_REMOTE = re.compile(r"<script|<link[^>]+stylesheet|<img[^>]+src=\"http|@import|url\(http|<iframe",
                                 re.IGNORECASE)


def plain_text(markup: str) -> str:
    """The words of an HTML page or fragment, which readability is measured on."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", markup)).split())


def _scenario_count() -> int:
    return sum(len(tomllib.loads((FIXTURES / hook / "scenarios.toml").read_text())["scenario"]) for hook in HOOKS)


def test_the_handout_is_a_plain_static_page(client: FlaskClient) -> None:
    answer = client.get("/handouts/neutropenia")
    assert answer.status_code == 200 and answer.mimetype == "text/html"
    policy = answer.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src" not in policy  # no script may run
    page = answer.get_data(as_text=True)
    assert not NO_SCRIPT_OR_REMOTE.search(page)  # no script, no external font, stylesheet or CDN
    assert "<h1>Neutropenia: how to avoid infection</h1>" in page


# The advice the handout must give (card wording of the clinical rules, and the founding document's advice).
@pytest.mark.parametrize("advice", [
    "Neutropenia means you have too few",  # what neutropenia is
    "cannot fight germs well",  # why infections are dangerous
    "100.4 °F (38.0 °C) or higher, call your care team at once, day or night",  # the fever emergency
    "Wash your hands often",
    "wash their hands too",  # everyone around the patient
    "face mask",
    "people who have a cold, the flu",
    "crowds",
    "Cook meat and eggs all the way through",  # food safety
    "pasteurized",
    "Do not get a live vaccine",
    "sprayed in the nose",  # the nasal flu vaccine is live
    "thermometers, suppositories or enemas",
    "Chills", "sore throat", "new cough", "Burning or pain when you pass urine", "New redness or swelling",
])
def test_the_handout_gives_the_advice(client: FlaskClient, advice: str) -> None:
    assert advice in plain_text(client.get("/handouts/neutropenia").get_data(as_text=True))


def test_the_handout_reads_at_grade_8_or_below(client: FlaskClient) -> None:
    page = client.get("/handouts/neutropenia").get_data(as_text=True)
    body = plain_text(page.split("<body>", 1)[1])
    assert len(body.split()) > 250  # the whole handout is measured, not a fragment
    assert textstat.flesch_kincaid_grade(body) <= 8


def test_the_handout_holds_no_patient_data_and_needs_no_login() -> None:
    production = Settings(profile="production", public_base_url="https://cds.example.org",
                          fhir_server_allowlist=("https://fhir.example.org",),
                          trusted_issuers=Settings().issuers, data_dir=Path("var"))
    client = create_app(production).test_client()
    answer = client.get("/handouts/neutropenia")  # no Authorization header: a patient opens it
    assert answer.status_code == 200
    assert "{{" not in answer.get_data(as_text=True) and "Patient/" not in answer.get_data(as_text=True)


def test_the_handout_wording_lives_beside_the_card_templates() -> None:
    assert (default_cards_dir() / "handouts" / "neutropenia.md").is_file()
    assert (default_cards_dir() / "handouts" / "page.html").is_file()


def test_the_review_page_shows_every_fixture_scenario(client: FlaskClient) -> None:
    answer = client.get("/preview")
    assert answer.status_code == 200 and answer.mimetype == "text/html"
    page = answer.get_data(as_text=True)
    assert not NO_SCRIPT_OR_REMOTE.search(page)
    assert page.count('<section class="scenario"') == _scenario_count()
    for hook in HOOKS:  # each scenario's description beside its cards
        for scenario in tomllib.loads((FIXTURES / hook / "scenarios.toml").read_text())["scenario"]:
            assert str(escape(scenario["description"])) in page
    assert page.count('<article class="card critical">') >= 5
    assert "Remove the draft order" in page and "Benefit outweighs risk" in page  # suggestions, override reasons
    assert "<strong>" in page and "<li>" in page  # the Markdown detail rendered, not shown raw
    assert 'id="chart-1-anc"' in page


def test_each_chart_draws_one_marker_per_dated_anc(client: FlaskClient) -> None:
    page = client.get("/preview").get_data(as_text=True)
    # falling-trend: three ANCs, 1,800, 1,200 and 800/uL, a week apart (its request holds three ANC Observations)
    section = page.split('id="patient-view-falling-trend"', 1)[1].split("</section>", 1)[0]
    chart_id = re.search(r'data-chart="(chart-\d+)"', section)
    assert chart_id is not None and 'data-points="3"' in section
    anc = section.split(f'<g id="{chart_id[1]}-anc">', 1)[1].split("</g>\n   </g>", 1)[0]
    assert anc.count("<use ") == 3


def test_the_review_page_is_off_unless_enabled() -> None:
    off = create_app(Settings(review_page=False)).test_client().get("/preview")
    assert off.status_code == 404 and off.mimetype == "application/fhir+json"
    production = Settings(profile="production", public_base_url="https://cds.example.org",
                          fhir_server_allowlist=("https://fhir.example.org",), trusted_issuers=Settings().issuers)
    assert not production.review_page_on


def test_evaluate_writes_the_review_page_for_a_bundle(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "review.html"
    code = main(["evaluate", str(FIXTURES / "bundles" / "moderate-adult-999.bundle.json"), "--at",
                 "2026-11-25T12:00:00Z", "--html", str(out)])
    assert code == 0 and "1 card(s)" in capsys.readouterr().out
    page = out.read_text()
    assert page.count('<section class="scenario"') == 1
    assert "Moderate neutropenia: ANC 999/uL" in page and 'id="chart-1-anc"' in page


@pytest.mark.parametrize("report_date", ["0001-01-01", "0001-01-01T00:00:00-14:00"])
def test_the_chart_draws_a_result_dated_on_the_first_day_a_date_holds(tmp_path: Path, report_date: str) -> None:
    # a .NET system's unset date (DateTime.MinValue) dating a result through its report: drawn, never an error page
    bundle = json.loads((FIXTURES / "bundles" / "moderate-adult-999.bundle.json").read_text())
    old = {"resourceType": "Observation", "id": "obs-old", "status": "final", "subject": {"reference": "Patient/pat-1"},
           "code": {"coding": [{"system": "http://loinc.org", "code": "751-8"}]},
           "valueQuantity": {"value": 2500, "unit": "/uL", "system": "http://unitsofmeasure.org", "code": "/uL"}}
    report = {"resourceType": "DiagnosticReport", "id": "report-old", "status": "final", "code": {"text": "CBC"},
              "effectiveDateTime": report_date, "result": [{"reference": "Observation/obs-old"}]}
    bundle["entry"] += [{"resource": old}, {"resource": report}]
    (tmp_path / "bundle.json").write_text(json.dumps(bundle))
    out = tmp_path / "review.html"
    assert main(["evaluate", str(tmp_path / "bundle.json"), "--at", "2026-11-25T12:00:00Z", "--html", str(out)]) == 0
    page = out.read_text()
    assert "Moderate neutropenia: ANC 999/uL" in page and 'data-points="2"' in page
    anc = page.split('<g id="chart-1-anc">', 1)[1].split("</g>\n   </g>", 1)[0]
    assert anc.count("<use ") == 2


def test_evaluate_writes_the_review_page_for_an_order_hook(tmp_path: Path) -> None:
    out = tmp_path / "review.html"
    request = FIXTURES / "order-sign" / "sign-several-risky-orders.request.json"
    assert main(["evaluate", str(request), "--at", "2026-11-25T12:00:00Z", "--html", str(out)]) == 0
    page = out.read_text()
    assert page.count('<article class="card') == 4  # MMR, carboplatin, TMP-SMX, the suppository (its scenario)


def test_the_chart_draws_an_upper_bound_as_a_ceiling_not_a_count(tmp_path: Path) -> None:
    """R4: a WBC of 1,200 with no differential says the ANC is at most 1,200. After a measured 999 it is drawn as a
    ceiling of its own (a marker "at most"), never joined to the 999 by a line that would show a rise."""
    bundle = json.loads((FIXTURES / "bundles" / "moderate-adult-999.bundle.json").read_text())
    wbc = {"resourceType": "Observation", "id": "wbc-later", "status": "final",
           "subject": {"reference": "Patient/pat-1"}, "effectiveDateTime": "2026-11-25T08:00:00Z",
           "code": {"coding": [{"system": "http://loinc.org", "code": "6690-2"}]},
           "valueQuantity": {"value": 1.2, "unit": "10*3/uL", "system": "http://unitsofmeasure.org", "code": "10*3/uL"}}
    bundle["entry"].append({"resource": wbc})
    (tmp_path / "bundle.json").write_text(json.dumps(bundle))
    out = tmp_path / "review.html"
    assert main(["evaluate", str(tmp_path / "bundle.json"), "--at", "2026-11-25T12:00:00Z", "--html", str(out)]) == 0
    page = out.read_text()
    assert 'data-points="2"' in page
    measured = page.split('<g id="chart-1-anc">', 1)[1].split("</g>\n   </g>", 1)[0]
    ceiling = page.split('<g id="chart-1-anc-at-most">', 1)[1].split("</g>\n   </g>", 1)[0]
    assert measured.count("<use ") == 1 and ceiling.count("<use ") == 1


@pytest.mark.parametrize(("name", "marked"), [
    ("sign-live-vaccine-after-chemotherapy", True),  # cyclophosphamide on Oct 26: a line that day
    ("sign-live-vaccine-home-chemotherapy-undated", False),  # temozolomide taken since a day no record gives
])
def test_the_chart_marks_chemotherapy_only_on_a_day_the_record_gives(tmp_path: Path, name: str,
                                                                      marked: bool) -> None:
    out = tmp_path / "review.html"
    request = FIXTURES / "order-sign" / f"{name}.request.json"
    assert main(["evaluate", str(request), "--at", "2026-11-25T12:00:00Z", "--html", str(out)]) == 0
    page = out.read_text()
    assert 'id="chart-1-anc"' in page
    assert ('id="chart-1-chemotherapy"' in page) is marked
