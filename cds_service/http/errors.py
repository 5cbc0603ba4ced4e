"""Every non-2xx answer is a FHIR OperationOutcome with a clear diagnostics text, never a stack trace."""

from __future__ import annotations

import contextlib
import logging
import re

import orjson
from fhir.resources.R4B.operationoutcome import OperationOutcome
from flask import Flask, Response, g, request
from werkzeug.exceptions import ClientDisconnected, HTTPException

from cds_service.errors import ISSUE_CODES, ServiceError, Unauthenticated
from cds_service.metrics import JWT_REFUSALS, REPLAY_HITS, reason_label

log = logging.getLogger(__name__)



def operation_outcome(status: int, diagnostics: str, code: str | None = None) -> Response:
    """A FHIR R4 OperationOutcome, built and validated with fhir.resources (strict in what is sent)."""
    model = OperationOutcome.model_validate({
        "resourceType": "OperationOutcome",
        "issue": [{
            "severity": "error" if status < 500 else "fatal",
            "code": code or ISSUE_CODES.get(status, "exception"),
            "diagnostics": diagnostics,
        }],
    })
    return Response(orjson.dumps(model.model_dump(mode="json", exclude_none=True)), status=status,
                    mimetype="application/fhir+json")


_PEEK_BYTES = 1024 * 1024
_HOOK_INSTANCE = re.compile(r"[A-Za-z0-9._:-]{1,100}")


def remember_hook_instance(body: object) -> None:
    """Keep the call's hookInstance for the log line of a refusal -- only when it looks like an id, never free text."""
    value = body.get("hookInstance") if isinstance(body, dict) else None
    if isinstance(value, str) and _HOOK_INSTANCE.fullmatch(value):
        g.hook_instance = value


def _log_refusal(status: int, reason: str) -> None:
    """Every 4xx reaches the operator at WARNING: status, path, service, hookInstance and the reason -- never a
    token, a name or a value (the reasons are written by this service, about the request's shape)."""
    service_id = (request.view_args or {}).get("service_id", "-")
    if status == 401 and "hook_instance" not in g and request.method == "POST" and (
            request.content_length or 0) <= _PEEK_BYTES:
        with contextlib.suppress(orjson.JSONDecodeError, ValueError):  # refused before the body was read
            remember_hook_instance(orjson.loads(request.get_data(cache=True)))
    log.warning("%d %s %s service=%s hookInstance=%s: %s", status, request.method, request.path, service_id,
                g.get("hook_instance", "-"), reason)


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ServiceError)
    def service_error(error: ServiceError) -> Response:
        if isinstance(error, Unauthenticated):
            _log_refusal(401, error.reason)
            JWT_REFUSALS.labels(reason_label(error.reason)).inc()
            if error.reason == "jti replayed":
                REPLAY_HITS.inc()
            response = operation_outcome(401, error.diagnostics, error.issue_code)
            response.headers["WWW-Authenticate"] = "Bearer"
            return response
        if error.status < 500:
            _log_refusal(error.status, error.diagnostics)
        return operation_outcome(error.status, error.diagnostics, error.issue_code)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        status = error.code or 500
        texts = {
            404: "no such resource; the CDS services are listed at GET /cds-services",
            405: "method not allowed on this path",
            413: "request body is larger than the service accepts",
        }
        diagnostics = texts.get(status, error.description or error.name)
        if isinstance(error, ClientDisconnected):  # (a silent client is let go: `serve` times its reads out)
            diagnostics = "the request body ended early: the client closed the connection or stopped sending"
        if 400 <= status < 500:
            _log_refusal(status, diagnostics)
        return operation_outcome(status, diagnostics)

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Response:
        log.exception("unexpected error while answering a request")
        return operation_outcome(500, "internal error; the service log has the details")
