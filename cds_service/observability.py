"""What the service noticed but did not refuse, counted; a request id on every call and every log line; the one log
handler `serve` configures, as plain lines or JSON. Never a value, a name or a token in any of them."""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
from flask import Flask, has_request_context, request

from cds_service.metrics import NOTICED, count_call

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
REQUEST_ID = "neutropenia_cds.request_id"  # the call's request id, in the WSGI environ
PLAIN = "%(asctime)s %(levelname)s [%(process)d] %(request_id)s %(name)s: %(message)s"


def noticed(logger: logging.Logger, event: str, level: int = logging.INFO) -> None:
    """Count `event` (metrics: cds_noticed_total) and log it at `level`; the event text must hold no PHI."""
    NOTICED.labels(event).inc()
    logger.log(level, "%s", event)


SERVICE_CALLS = "/cds-services/"


def observe_calls(app: Flask) -> None:
    """Around the whole application (WSGI), so that what Flask refuses is seen too: every request gets a request id
    -- the caller's X-Request-Id when it looks like one, else a new one -- sent back in X-Request-Id and written on
    every log line of the call; every CDS service call (POST /cds-services/<id>) is counted and timed by service
    and status, an id no service has as "unknown"."""
    inner = app.wsgi_app
    services = app.extensions["cds_services"]

    def observed(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        sent = environ.get("HTTP_X_REQUEST_ID", "")
        request_id = environ[REQUEST_ID] = sent if _REQUEST_ID.fullmatch(sent) else uuid.uuid4().hex[:16]
        path: str = environ.get("PATH_INFO", "")
        service = path[len(SERVICE_CALLS):] if path.startswith(SERVICE_CALLS) else None
        if service is not None and ("/" in service or environ.get("REQUEST_METHOD") != "POST"):
            service = None  # (discovery, feedback, preflight)
        elif service is not None and service not in services:
            service = "unknown"

        def respond(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            headers.append(("X-Request-Id", request_id))
            if service is not None:
                count_call(service, status[:3], time.perf_counter() - started)
            return start_response(status, headers, exc_info)

        return inner(environ, respond)

    app.wsgi_app = observed  # type: ignore[method-assign]


class RequestIdFilter(logging.Filter):
    """Puts the call's request id on each record ("-" outside a call)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request.environ.get(REQUEST_ID, "-") if has_request_context() else "-"
        return True


# C0 control characters and DEL, escaped in a plain log line: a client's percent-encoded newline (in a path, in a
# hookInstance) must never start a line of its own (a forged log entry)
_CONTROLS = {code: f"\\x{code:02x}" for code in (*range(32), 127)}


class PlainFormatter(logging.Formatter):
    """PLAIN, one line an event: the message's control characters escaped (a traceback keeps its lines)."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging.Formatter's name)
        return super().formatMessage(record).translate(_CONTROLS)


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, process, request id, logger, message (and the exception, if any)."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "process": record.process,
            "requestId": getattr(record, "request_id", "-"),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line).decode()


def configure_logging(level: str, log_format: str = "plain") -> None:
    """One handler for the service's own log (stderr): refusals at WARNING, what was noticed at INFO."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if log_format == "json" else PlainFormatter(PLAIN))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
