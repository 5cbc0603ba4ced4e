"""Every non-2xx answer is a FHIR OperationOutcome with a clear diagnostics text, never a stack trace."""

from __future__ import annotations

import logging

import orjson
from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from cds_service.errors import ServiceError, Unauthenticated

log = logging.getLogger(__name__)

_ISSUE_CODE = {400: "invalid", 401: "login", 403: "forbidden", 404: "not-found", 405: "not-supported",
               412: "not-found", 413: "too-long", 415: "invalid"}


def operation_outcome(status: int, diagnostics: str, code: str | None = None) -> Response:
    body = {
        "resourceType": "OperationOutcome",
        "issue": [{
            "severity": "error" if status < 500 else "fatal",
            "code": code or _ISSUE_CODE.get(status, "exception"),
            "diagnostics": diagnostics,
        }],
    }
    return Response(orjson.dumps(body), status=status, mimetype="application/fhir+json")


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ServiceError)
    def service_error(error: ServiceError) -> Response:
        if isinstance(error, Unauthenticated):
            log.info("401 for %s: %s", request.path, error.reason)
            response = operation_outcome(401, error.diagnostics, error.issue_code)
            response.headers["WWW-Authenticate"] = "Bearer"
            return response
        return operation_outcome(error.status, error.diagnostics, error.issue_code)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        status = error.code or 500
        texts = {
            404: "no such resource; the CDS services are listed at GET /cds-services",
            405: "method not allowed on this path",
            413: "request body is larger than the service accepts",
        }
        return operation_outcome(status, texts.get(status, error.description or error.name))

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Response:
        log.exception("unexpected error while answering a request")
        return operation_outcome(500, "internal error; the service log has the details")
