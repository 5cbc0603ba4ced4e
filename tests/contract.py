"""Checks of a CDS Hooks 2.0 response against the spec and DESIGN.md's contract -- every key, every type."""

from __future__ import annotations

import uuid
from typing import Any

from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.servicerequest import ServiceRequest

CARD_KEYS = {"uuid", "summary", "detail", "indicator", "source", "suggestions", "selectionBehavior",
             "overrideReasons", "links", "extension"}
ASSESSMENT_KEYS = {"finding", "severity", "profound", "ancPerUL", "ancComparator", "ancSource", "observedAt", "lln",
                   "ctcaeGrade", "febrile"}
FINDINGS = {"neutropenia", "febrile-neutropenia", "possible-febrile-neutropenia", "fever-with-neutropenia",
            "duffy-null-range", "low-for-age", "no-current-anc", "data-problem", "order-risk"}


def assert_card(card: dict[str, Any]) -> None:
    assert set(card) <= CARD_KEYS, f"unexpected card keys {set(card) - CARD_KEYS}"
    uuid.UUID(card["uuid"])
    assert isinstance(card["summary"], str) and 0 < len(card["summary"]) <= 140
    assert card["indicator"] in {"info", "warning", "critical"}
    assert isinstance(card["detail"], str) and card["detail"]
    assert "<script" not in card["detail"].lower()
    source = card["source"]
    assert set(source) <= {"label", "url", "icon", "topic"} and isinstance(source["label"], str) and source["label"]
    assert source.get("url", "https://").startswith("https://")
    for link in card.get("links", []):
        assert set(link) <= {"label", "url", "type", "appContext"}
        assert link["type"] in {"absolute", "smart"} and link["label"] and link["url"].startswith(("https://", "http://"))
    for suggestion in card.get("suggestions", []):
        uuid.UUID(suggestion["uuid"])
        assert isinstance(suggestion["label"], str)
        for action in suggestion["actions"]:
            assert action["type"] in {"create", "update", "delete"} and action["description"]
            if "resource" in action:  # strict in what is sent: a valid FHIR R4 resource
                model = {"ServiceRequest": ServiceRequest}[action["resource"]["resourceType"]]
                model.model_validate(action["resource"])
    if card.get("suggestions"):
        assert card["selectionBehavior"] in {"at-most-one", "any"}
    for reason in card.get("overrideReasons", []):
        assert isinstance(reason["display"], str) and reason["display"]
    assessment = card["extension"]["neutropenia-cds"]
    assert set(assessment) == ASSESSMENT_KEYS
    assert assessment["finding"] in FINDINGS
    assert assessment["severity"] in {"mild", "moderate", "severe", None}
    assert isinstance(assessment["profound"], bool) and isinstance(assessment["febrile"], bool)
    assert assessment["ancPerUL"] is None or isinstance(assessment["ancPerUL"], int | float)
    assert assessment["ancComparator"] in {None, "<", "<="}
    assert assessment["ancSource"] in {"reported", "segs+bands", "computed", "wbc-bound", None}
    assert isinstance(assessment["lln"], int | float)
    assert assessment["ctcaeGrade"] in {None, 0, 1, 2, 3, 4}


def assert_cds_response(body: Any) -> list[dict[str, Any]]:
    """The cards of a valid CDS Hooks 2.0 response body."""
    assert isinstance(body, dict) and set(body) <= {"cards", "systemActions"}
    assert isinstance(body["cards"], list)
    for card in body["cards"]:
        assert_card(card)
    return body["cards"]


def assert_operation_outcome(body: Any, status_text: str | None = None) -> str:
    """The diagnostics of a FHIR OperationOutcome error body (a valid FHIR R4 OperationOutcome)."""
    assert body["resourceType"] == "OperationOutcome"
    OperationOutcome.model_validate(body)
    (issue,) = body["issue"]
    assert issue["severity"] in {"error", "fatal"} and issue["code"]
    assert isinstance(issue["diagnostics"], str) and issue["diagnostics"]
    assert "Traceback" not in issue["diagnostics"]
    if status_text is not None:
        assert status_text in issue["diagnostics"]
    return str(issue["diagnostics"])
