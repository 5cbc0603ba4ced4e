"""What the service noticed but did not refuse, counted; a request id on every call and every log line; the one log
handler `serve` configures, as plain lines or JSON. Never a value, a name or a token in any of them."""

from __future__ import annotations

import logging
import re
import sys
import uuid
from datetime import UTC, datetime

import orjson
from flask import Flask, Response, g, has_request_context, request

from cds_service.metrics import NOTICED

_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
PLAIN = "%(asctime)s %(levelname)s [%(process)d] %(request_id)s %(name)s: %(message)s"


def noticed(logger: logging.Logger, event: str, level: int = logging.INFO) -> None:
    """Count `event` (metrics: cds_noticed_total) and log it at `level`; the event text must hold no PHI."""
    NOTICED.labels(event).inc()
    logger.log(level, "%s", event)


def register_request_ids(app: Flask) -> None:
    """Every call gets a request id -- the caller's X-Request-Id when it looks like one, else a new one -- sent back
    in X-Request-Id and written on every log line of the call."""

    @app.before_request
    def take_request_id() -> None:
        sent = request.headers.get("X-Request-Id", "")
        g.request_id = sent if _REQUEST_ID.fullmatch(sent) else uuid.uuid4().hex[:16]

    @app.after_request
    def give_request_id(response: Response) -> Response:
        response.headers["X-Request-Id"] = g.get("request_id", "-")
        return response


class RequestIdFilter(logging.Filter):
    """Puts the call's request id on each record ("-" outside a call)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = g.get("request_id", "-") if has_request_context() else "-"
        return True


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
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(PLAIN))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
