"""GET /metrics in the Prometheus text format (prometheus_client). Under `serve` every gunicorn worker writes its
figures to PROMETHEUS_MULTIPROC_DIR (set by the CLI before this module is imported) and /metrics adds them up. Labels
are service ids, statuses, indicators, findings and fixed reason texts: never a patient, a value or a token."""

from __future__ import annotations

import os
import re
import time

from flask import Flask, Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client import multiprocess as _multiprocess

CALLS = Counter("cds_calls_total", "CDS service calls, by service and HTTP status", ["service", "status"])
CALL_SECONDS = Histogram("cds_call_seconds", "Time to answer a CDS service call", ["service"],
                         buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
CARDS = Counter("cds_cards_total", "Cards returned, by indicator and finding", ["indicator", "finding"])
FHIR_SEARCHES = Counter("cds_fhir_fallback_searches_total", "FHIR fallback searches, by outcome", ["outcome"])
FHIR_SECONDS = Histogram("cds_fhir_fallback_seconds", "Time of one FHIR fallback (every search of a call)",
                         buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5))
JWT_REFUSALS = Counter("cds_jwt_refusals_total", "Calls refused with 401, by reason", ["reason"])
NOTICED = Counter("cds_noticed_total", "What the service noticed but did not refuse (drafts read despite "
                  "irregularities, unrecognised medications, terminology look-ups), by event", ["event"])
REPLAY_HITS = Counter("cds_replay_cache_hits_total", "JWTs refused because their jti was used before")
FEEDBACK = Counter("cds_feedback_items_total", "Feedback items received, by result", ["result"])

_QUOTED = re.compile(r"'[^']*'")


def reason_label(reason: str) -> str:
    """A refusal reason as a label of bounded variety: quoted parts (what the caller sent) blanked."""
    return _QUOTED.sub("'...'", reason)[:80]


def register_metrics(app: Flask) -> None:
    """Count every CDS service call (after its error handler, so refusals count too) and serve /metrics."""

    @app.before_request
    def start_clock() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    def count_call(response: Response) -> Response:
        service = (request.view_args or {}).get("service_id")
        if service is not None and request.method == "POST" and not request.path.endswith("/feedback"):
            if service not in app.extensions["cds_services"]:
                service = "unknown"
            CALLS.labels(service, str(response.status_code)).inc()
            CALL_SECONDS.labels(service).observe(time.perf_counter() - g.get("metrics_started", time.perf_counter()))
        return response

    @app.get("/metrics")
    def metrics() -> Response:
        directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if directory:
            registry = CollectorRegistry()
            _multiprocess.MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
            body = generate_latest(registry)
        else:
            body = generate_latest()
        return Response(body, mimetype=CONTENT_TYPE_LATEST.split(";")[0], content_type=CONTENT_TYPE_LATEST)
