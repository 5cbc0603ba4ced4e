"""The service's own OpenAPI 3.1 description, generated from the service declarations (served at /openapi.json)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cds_service import __version__
from cds_service.clinical.model import Finding
from cds_service.services import CdsService

_STRING = {"type": "string"}
_FINDINGS = [str(finding) for finding in Finding]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/fhir+json": {"schema": _ref("OperationOutcome")}}}


SCHEMAS: dict[str, Any] = {
    "OperationOutcome": {
        "type": "object",
        "required": ["resourceType", "issue"],
        "properties": {
            "resourceType": {"const": "OperationOutcome"},
            "issue": {"type": "array", "minItems": 1, "items": {
                "type": "object", "required": ["severity", "code", "diagnostics"],
                "properties": {"severity": {"enum": ["fatal", "error", "warning", "information"]},
                               "code": _STRING, "diagnostics": _STRING}}},
        },
    },
    "Discovery": {
        "type": "object", "required": ["services"], "additionalProperties": False,
        "properties": {"services": {"type": "array", "items": {
            "type": "object", "required": ["id", "hook", "title", "description"],
            "properties": {"id": _STRING, "hook": _STRING, "title": _STRING, "description": _STRING,
                           "prefetch": {"type": "object", "additionalProperties": _STRING}}}}},
    },
    "FhirAuthorization": {
        "type": "object", "required": ["access_token", "token_type"],
        "properties": {"access_token": {"type": "string", "minLength": 1},
                       "token_type": {"type": "string", "pattern": "^[Bb][Ee][Aa][Rr][Ee][Rr]$"},  # RFC 6749, 5.1
                       "expires_in": {"type": "integer"}, "scope": _STRING, "subject": _STRING},
    },
    "CdsRequest": {
        "type": "object", "required": ["hook", "context"],  # (hookInstance and userId: read by no rule, never refused)
        "properties": {
            "hook": _STRING,
            "hookInstance": {"type": "string", "minLength": 1},
            "fhirServer": {"type": "string", "format": "uri"},
            "fhirAuthorization": _ref("FhirAuthorization"),
            "context": {"type": "object", "required": ["patientId"], "properties": {
                "patientId": {"type": "string", "pattern": "^[A-Za-z0-9\\-.]{1,64}$"},
                "userId": {"type": "string", "minLength": 1},
                "encounterId": _STRING,
                "selections": {"type": "array", "items": _STRING},
                "draftOrders": {"type": "object"}}},
            "prefetch": {"type": "object", "additionalProperties": {"type": ["object", "null"]}},
        },
    },
    "Assessment": {
        "type": "object", "additionalProperties": False,
        "required": ["finding", "severity", "profound", "ancPerUL", "ancComparator", "ancSource", "observedAt", "lln",
                     "ctcaeGrade", "febrile"],
        "properties": {
            "finding": {"enum": _FINDINGS},
            "severity": {"enum": ["mild", "moderate", "severe", None]},
            "profound": {"type": "boolean"},
            "ancPerUL": {"type": ["number", "null"]},
            "ancComparator": {"enum": ["<", "<=", None]},
            "ancSource": {"enum": ["reported", "segs+bands", "computed", "wbc-bound", None]},
            "observedAt": {"type": ["string", "null"], "format": "date-time"},
            "lln": {"type": "number"},
            "ctcaeGrade": {"enum": [0, 1, 2, 3, 4, None]},
            "febrile": {"type": "boolean"},
        },
    },
    "Action": {
        "type": "object", "required": ["type", "description"],
        "properties": {"type": {"enum": ["create", "update", "delete"]}, "description": _STRING,
                       "resource": {"type": "object"}, "resourceId": _STRING},
    },
    "Card": {
        "type": "object", "additionalProperties": False,
        "required": ["uuid", "summary", "indicator", "source", "detail", "extension"],
        "properties": {
            "uuid": {"type": "string", "format": "uuid"},
            "summary": {"type": "string", "minLength": 1, "maxLength": 140},
            "detail": {"type": "string", "description": "GitHub-flavored Markdown"},
            "indicator": {"enum": ["info", "warning", "critical"]},
            "source": {"type": "object", "required": ["label"],
                       "properties": {"label": _STRING, "url": {"type": "string", "format": "uri"}}},
            "links": {"type": "array", "items": {
                "type": "object", "required": ["label", "url", "type"],
                "properties": {"label": _STRING, "url": {"type": "string", "format": "uri"},
                               "type": {"enum": ["absolute", "smart"]}}}},
            "suggestions": {"type": "array", "items": {
                "type": "object", "required": ["label", "uuid"],
                "properties": {"label": _STRING, "uuid": {"type": "string", "format": "uuid"},
                               "isRecommended": {"type": "boolean"},
                               "actions": {"type": "array", "items": _ref("Action")}}}},
            "selectionBehavior": {"enum": ["at-most-one", "any"]},
            "overrideReasons": {"type": "array", "items": {"type": "object", "required": ["code", "display"],
                                                           "properties": {"system": _STRING, "code": _STRING,
                                                                          "display": _STRING}}},
            "extension": {"type": "object", "required": ["neutropenia-cds"],
                          "properties": {"neutropenia-cds": _ref("Assessment")}},
        },
    },
    "Feedback": {
        "type": "object", "required": ["feedback"],
        "properties": {"feedback": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["card", "outcome", "outcomeTimestamp"],
            "properties": {
                "card": {"type": "string", "minLength": 1, "maxLength": 64},
                "outcome": {"enum": ["accepted", "overridden"]},
                "acceptedSuggestions": {"type": "array", "items": {"type": "object", "required": ["id"],
                                                                   "properties": {"id": _STRING}}},
                "overrideReason": {"type": "object", "properties": {
                    "reason": {"type": "object", "required": ["code"],
                               "properties": {"system": _STRING, "code": _STRING, "display": _STRING}},
                    "userComment": _STRING}},
                "outcomeTimestamp": {"type": "string", "format": "date-time"}}}}},
    },
    "FeedbackReceipt": {
        "type": "object", "required": ["stored", "duplicates", "unknownCards"],
        "properties": {"stored": {"type": "integer"}, "duplicates": {"type": "integer"},
                       "unknownCards": {"type": "integer"}},
    },
    "FeedbackSummary": {
        "type": "object", "required": ["since", "rows", "feedbackForUnknownCards"],
        "properties": {
            "since": {"type": ["string", "null"]},
            "feedbackForUnknownCards": {"type": "integer"},
            "rows": {"type": "array", "items": {
                "type": "object",
                "required": ["finding", "indicator", "shown", "accepted", "overridden", "overrideRate",
                             "topOverrideReasons"],
                "properties": {
                    "finding": {"enum": _FINDINGS}, "indicator": {"enum": ["info", "warning", "critical"]},
                    "shown": {"type": "integer"}, "accepted": {"type": "integer"},
                    "overridden": {"type": "integer"}, "overrideRate": {"type": ["number", "null"]},
                    "topOverrideReasons": {"type": "array", "items": {
                        "type": "object", "required": ["code", "display", "count"],
                        "properties": {"code": _STRING, "display": _STRING, "count": {"type": "integer"}}}}}}},
        },
    },
    "CdsResponse": {
        "type": "object", "required": ["cards"], "additionalProperties": False,
        "properties": {"cards": {"type": "array", "items": _ref("Card")},
                       "systemActions": {"type": "array", "items": _ref("Action")}},
    },
}


def openapi_document(services: Mapping[str, CdsService]) -> dict[str, Any]:
    """OpenAPI 3.1 for discovery and every declared service, with the CDS Hooks JWT scheme."""
    # required in the production profile; checked in dev when sent
    security: list[dict[str, list[str]]] = [{"cdsHooksJwt": []}, {}]
    unauthorized = _error("missing or invalid JWT (no detail is given)")
    unchecked = _error("the JWT could not be checked against the ids already used (the store is down); send again")
    paths: dict[str, Any] = {
        "/cds-services": {"get": {
            "operationId": "discovery", "summary": "CDS Hooks discovery", "security": security,
            "responses": {"200": {"description": "the services", "content": {
                "application/json": {"schema": _ref("Discovery")}}}, "401": unauthorized, "503": unchecked}}},
    }
    for service in services.values():
        paths[f"/cds-services/{service.id}"] = {"post": {
            "operationId": service.id.replace("-", "_"),
            "summary": f"{service.title} ({service.hook})",
            "description": service.description,
            "security": security,
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("CdsRequest")}}},
            "responses": {
                "200": {"description": "cards", "content": {"application/json": {"schema": _ref("CdsResponse")}}},
                "400": _error("malformed body, wrong hook, missing or invalid context"),
                "401": unauthorized,
                "412": _error("required data neither in prefetch nor obtainable from fhirServer"),
                "413": _error("body larger than the service accepts"),
                "503": unchecked,
            },
        }}
        paths[f"/cds-services/{service.id}/feedback"] = {"post": {
            "operationId": service.id.replace("-", "_") + "_feedback",
            "summary": f"CDS Hooks feedback on the cards of {service.id}",
            "security": security,
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("Feedback")}}},
            "responses": {
                "200": {"description": "stored durably (idempotent on card, outcome and outcomeTimestamp)",
                        "content": {"application/json": {"schema": _ref("FeedbackReceipt")}}},
                "400": _error("malformed feedback"),
                "401": unauthorized,
                "413": _error("body larger than the service accepts"),
                "503": _error("the store could not commit, or the JWT could not be checked; send again"),
            },
        }}
    paths["/feedback/summary"] = {"get": {
        "operationId": "feedback_summary",
        "summary": "Per finding and indicator: cards shown, accepted, overridden, override rate, top reasons",
        "security": security,
        "parameters": [{"name": "since", "in": "query", "required": False,
                        "schema": {"type": "string", "format": "date"}}],
        "responses": {
            "200": {"description": "the report", "content": {"application/json": {"schema": _ref("FeedbackSummary")}}},
            "400": _error("since is not a date"),
            "401": unauthorized,
            "503": _error("the store could not be read, or the JWT could not be checked; ask again"),
        },
    }}
    return {
        "openapi": "3.1.0",
        "info": {"title": "neutropenia-cds", "version": __version__,
                 "description": "HL7 CDS Hooks 2.0 service that watches for neutropenia."},
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"cdsHooksJwt": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                                                "description": "CDS Hooks 2.0: a JWT signed by a trusted CDS client"}},
        },
    }
