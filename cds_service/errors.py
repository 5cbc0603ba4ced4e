"""Errors a client can cause, each with the HTTP status and FHIR issue code it is answered with."""

from __future__ import annotations

# FHIR OperationOutcome issue codes by HTTP status: the one table (each error class below names its own status).
ISSUE_CODES = {400: "invalid", 401: "login", 403: "forbidden", 404: "not-found", 405: "not-supported",
               412: "not-found", 413: "too-long", 415: "invalid", 503: "transient"}


class ServiceError(Exception):
    """An error answered as a FHIR OperationOutcome with this status (DESIGN.md: errors)."""

    status = 500

    @property
    def issue_code(self) -> str:
        return ISSUE_CODES.get(self.status, "exception")

    def __init__(self, diagnostics: str) -> None:
        super().__init__(diagnostics)
        self.diagnostics = diagnostics


class BadRequest(ServiceError):
    """400: malformed body, wrong hook, missing required context."""

    status = 400


class NotFound(ServiceError):
    """404: no such CDS service."""

    status = 404


class DataUnavailable(ServiceError):
    """412: data the service needs is neither in prefetch nor obtainable."""

    status = 412


class Unauthenticated(ServiceError):
    """401: no JWT where one is required, or one that fails a check. The client learns nothing more."""

    status = 401

    def __init__(self, reason: str) -> None:
        super().__init__("authorization failed")
        self.reason = reason  # for the log only


class StoreUnavailable(ServiceError):
    """503: the feedback store could not commit; the client should send again."""

    status = 503


class TooLarge(ServiceError):
    """413: a request with more in it than the service takes at once."""

    status = 413
