"""Where this call reached the service: `public_base_url`, else (dev only: production requires the setting) the
request's own host -- for JWT audiences, the handout and app links on cards, and the SMART redirect URI."""

from __future__ import annotations

import dataclasses

from flask import current_app, request

from cds_service.services import ServiceDependencies
from cds_service.settings import Settings


def base_url() -> str:
    settings: Settings = current_app.extensions["cds_settings"]
    if settings.public_base_url:
        return settings.public_base_url.rstrip("/")
    return f"{request.scheme}://{request.host}"  # (the Host header as sent, checked by Werkzeug)


def call_dependencies() -> ServiceDependencies:
    """The service's dependencies, with the base URL this call reached."""
    deps: ServiceDependencies = current_app.extensions["cds_dependencies"]
    base = base_url()
    return deps if deps.base_url == base else dataclasses.replace(deps, base_url=base)
