"""Errors a client can cause, each with the HTTP status and FHIR issue code it is answered with."""

from __future__ import annotations


class ServiceError(Exception):
    """An error answered as a FHIR OperationOutcome with this status (DESIGN.md: errors)."""

    status = 500
    issue_code = "exception"

    def __init__(self, diagnostics: str) -> None:
        super().__init__(diagnostics)
        self.diagnostics = diagnostics


class BadRequest(ServiceError):
    """400: malformed body, wrong hook, missing required context."""

    status = 400
    issue_code = "invalid"


class NotFound(ServiceError):
    """404: no such CDS service."""

    status = 404
    issue_code = "not-found"


class DataUnavailable(ServiceError):
    """412: data the service needs is neither in prefetch nor obtainable."""

    status = 412
    issue_code = "not-found"


class Unauthenticated(ServiceError):
    """401: no JWT where one is required, or one that fails a check. The client learns nothing more."""

    status = 401
    issue_code = "login"

    def __init__(self, reason: str) -> None:
        super().__init__("authorization failed")
        self.reason = reason  # for the log only


class StoreUnavailable(ServiceError):
    """503: the feedback store could not commit; the client should send again."""

    status = 503
    issue_code = "transient"


class TooLarge(ServiceError):
    """413: a request with more in it than the service takes at once."""

    status = 413
    issue_code = "too-long"
