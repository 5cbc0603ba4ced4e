"""GET /metrics in the Prometheus text format (prometheus_client). Under `serve` every gunicorn worker writes its
figures to PROMETHEUS_MULTIPROC_DIR (set by the CLI before this module is imported) and /metrics adds them up. Labels
are service ids, statuses, indicators, findings and fixed reason texts: never a patient, a value or a token."""

from __future__ import annotations

import os
import re

from flask import Flask, Response
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


def count_call(service: str, status: str, seconds: float) -> None:
    """One CDS service call answered (observability.observe_calls counts them all, refusals included)."""
    CALLS.labels(service, status).inc()
    CALL_SECONDS.labels(service).observe(seconds)


def register_metrics(app: Flask) -> None:
    """Serve /metrics."""

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
