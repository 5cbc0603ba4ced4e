"""neutropenia-cds evaluate: a hook request or a Bundle in, the assessment and cards out."""

from __future__ import annotations

import json
import platform
from pathlib import Path

import pytest

from cds_service.cli import main, tune_malloc
from tests.builders import NOW, anc, bundle, iso, medication, patient

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "patient-view"


def test_evaluate_hook_request_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["evaluate", str(FIXTURES / "severe-adult-499.request.json"), "--at", "2026-11-25T12:00:00Z",
                 "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["assessment"]["finding"] == "neutropenia"
    assert out["assessment"]["current"]["severity"] == "severe"
    assert out["assessment"]["current"]["anc"]["value"] == 499
    assert [c["summary"] for c in out["cards"]] == ["Severe neutropenia: ANC 499/uL (Nov 24)"]


def test_evaluate_bundle_readable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle(patient("1980-01-01"), anc(900, when="2026-11-24T08:00:00Z"))))
    assert main(["evaluate", str(path), "--at", iso(NOW)]) == 0
    out = capsys.readouterr().out
    assert "finding neutropenia" in out and "severity moderate" in out
    assert "[warning] Moderate neutropenia: ANC 900/uL (Nov 24)" in out


def test_evaluate_says_when_a_course_has_no_recorded_start(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bundle.json"
    statement = medication("MedicationStatement", "194000", None, status="active")  # capecitabine, still taken
    path.write_text(json.dumps(bundle(patient("1980-01-01"), anc(900, when="2026-11-24T08:00:00Z"), statement)))
    assert main(["evaluate", str(path), "--at", iso(NOW)]) == 0
    out = capsys.readouterr().out
    assert "  chemotherapy: capecitabine, from a start no record gives, ongoing\n" in out
    assert "  antineoplastic still active: capecitabine\n" in out


def test_evaluate_reads_a_transaction_bundle_that_refers_by_urn_uuid(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    # a Synthea record or a transaction Bundle: entries refer to each other by fullUrl (FHIR: resolved in the Bundle)
    person, undated = patient("1980-01-01", id="p-1"), anc(420, id="o-1", when=None)
    undated["subject"] = {"reference": "urn:uuid:0b1e"}
    report = {"resourceType": "DiagnosticReport", "id": "r-1", "status": "final", "code": {"text": "CBC"},
              "subject": {"reference": "urn:uuid:0b1e"}, "effectiveDateTime": "2026-11-24T08:00:00Z",
              "result": [{"reference": "urn:uuid:5e1f"}]}
    document = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:0b1e", "resource": person, "request": {"method": "POST", "url": "Patient"}},
        {"fullUrl": "urn:uuid:5e1f", "resource": undated, "request": {"method": "POST", "url": "Observation"}},
        {"fullUrl": "urn:uuid:77aa", "resource": report, "request": {"method": "POST", "url": "DiagnosticReport"}}]}
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(document))
    assert main(["evaluate", str(path), "--at", iso(NOW)]) == 0
    out = capsys.readouterr().out
    # the patient's own result (R1), dated by its report (R1): current and severe (R5), never "another patient's"
    assert "[critical] Severe neutropenia: ANC 420/uL (Nov 24)" in out


@pytest.mark.parametrize(("content", "message"), [
    ("not json", "the file is not valid JSON"),
    ("\udcff{", "the file is not valid JSON"),  # not UTF-8: written below as the raw byte 0xff
    (json.dumps({"resourceType": "Patient"}), "a CDS Hooks request or a FHIR Bundle"),
    (json.dumps(bundle(anc(300))), "exactly one Patient"),
])
def test_evaluate_bad_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str,
                                    message: str) -> None:
    path = tmp_path / "input.json"
    path.write_bytes(content.encode("utf-8", "surrogateescape"))
    assert main(["evaluate", str(path)]) == 2
    assert message in capsys.readouterr().err


def test_evaluate_needs_a_time_zone(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", str(FIXTURES / "normal-adult.request.json"), "--at", "2026-11-25T12:00:00"]) == 2
    assert "time zone" in capsys.readouterr().err


@pytest.mark.parametrize("at", ["yesterday", "2026-13-01T00:00:00Z", ""])
def test_evaluate_with_a_bad_time_is_a_clear_error(capsys: pytest.CaptureFixture[str], at: str) -> None:
    code = main(["evaluate", str(FIXTURES / "normal-adult.request.json"), "--at", at])
    err = capsys.readouterr().err
    assert code == 2 and ("--at must be an ISO 8601 date-time" in err or "time zone" in err)
    assert "Traceback" not in err


README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


@pytest.mark.parametrize("line", [line for line in README.splitlines()
                                  if line.startswith(".venv/bin/neutropenia-cds evaluate ")])
def test_the_readmes_evaluate_examples_run_as_written(line: str, capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(Path(__file__).resolve().parents[2])  # the README's commands run from the checkout
    args = line.split("#", maxsplit=1)[0].split()[1:]
    assert main(args) == 0
    assert capsys.readouterr().out


def test_feedback_report_says_which_store_it_read(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEUTROPENIA_CDS_DATA_DIR", str(tmp_path))
    assert main(["feedback-report", "--json"]) == 0
    assert f"feedback store: sqlite:///{tmp_path.resolve() / 'feedback.sqlite3'}" in capsys.readouterr().err


def test_evaluate_strict_names_each_resource_that_is_not_valid_fhir(capsys: pytest.CaptureFixture[str]) -> None:
    sandbox = FIXTURES.parent / "order-sign" / "sign-sandbox-linezolid-anc-800.request.json"
    assert main(["evaluate", str(sandbox), "--strict", "--at", "2026-11-25T12:00:00Z"]) == 2
    assert "not valid FHIR R4: MedicationRequest/request-123: category" in capsys.readouterr().err
    valid = FIXTURES / "severe-adult-499.request.json"
    assert main(["evaluate", str(valid), "--strict", "--at", "2026-11-25T12:00:00Z"]) == 0
    assert "finding neutropenia" in capsys.readouterr().out


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_serve_fixes_the_large_block_threshold_on_glibc() -> None:
    """`serve` keeps glibc from raising its mmap threshold after each large body (what made workers keep their peak
    memory): mallopt accepts the setting."""
    assert tune_malloc() is True
