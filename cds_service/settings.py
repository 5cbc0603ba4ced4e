"""One typed Settings object, read from NEUTROPENIA_CDS_* environment variables and checked at start."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from cds_service.fhir.client import Allowlist

PREFIX = "NEUTROPENIA_CDS_"
PROFILES = ("dev", "production")
# The dev profile may fetch from this machine and from the public CDS Hooks Sandbox FHIR servers.
DEV_FHIR_ALLOWLIST = ("http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*",
                      "https://launch.smarthealthit.org", "https://r4.smarthealthit.org")


class SettingsError(ValueError):
    """A setting is missing or invalid; the message names the variable."""


def default_cards_dir() -> Path:
    """cards/ beside the package in a source checkout, else where the wheel installs it (share/neutropenia-cds)."""
    checkout = Path(__file__).resolve().parent.parent / "cards"
    if checkout.is_dir():
        return checkout
    import sysconfig

    return Path(sysconfig.get_path("data")) / "share" / "neutropenia-cds" / "cards"


@dataclass(frozen=True)
class Settings:
    """Every setting of the service, with its default (see README, Configuration)."""

    profile: str = "dev"
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 2
    cards_dir: Path = field(default_factory=default_cards_dir)
    # R6 POLICY settings
    current_window_days: int = 7
    lookback_days: int = 90
    max_body_bytes: int = 10 * 1024 * 1024
    # R8: the site's Duffy-null value set, as "system|code" entries
    duffy_null_codes: tuple[str, ...] = ()
    # FHIR fallback: the only origins ever fetched (None: the profile's default -- dev: loopback and the
    # CDS Hooks Sandbox; production: none), and its bounds
    fhir_server_allowlist: tuple[str, ...] | None = None
    fhir_connect_timeout: float = 1.0
    fhir_read_timeout: float = 2.5
    fhir_budget_seconds: float = 3.0
    fhir_max_pages: int = 5
    fhir_lookback_days: int = 365
    fhir_max_response_bytes: int = 20 * 1024 * 1024

    @property
    def fhir_allowlist(self) -> tuple[str, ...]:
        if self.fhir_server_allowlist is not None:
            return self.fhir_server_allowlist
        return DEV_FHIR_ALLOWLIST if self.profile == "dev" else ()
    # Evaluate as if it were this moment (demonstrations and tests); refused in the production profile.
    fixed_now: datetime | None = None

    def __post_init__(self) -> None:
        if self.profile not in PROFILES:
            raise SettingsError(f"{PREFIX}PROFILE must be one of {', '.join(PROFILES)}, not {self.profile!r}")
        if not 0 < self.port < 65536:
            raise SettingsError(f"{PREFIX}PORT must be between 1 and 65535, not {self.port}")
        for name in ("workers", "current_window_days", "lookback_days", "max_body_bytes", "fhir_max_pages",
                     "fhir_lookback_days", "fhir_max_response_bytes", "fhir_connect_timeout", "fhir_read_timeout",
                     "fhir_budget_seconds"):
            if getattr(self, name) <= 0:
                raise SettingsError(f"{PREFIX}{name.upper()} must be a positive number")
        try:
            Allowlist(self.fhir_allowlist)
        except ValueError as exc:
            raise SettingsError(f"{PREFIX}FHIR_SERVER_ALLOWLIST: {exc}") from None
        if self.profile == "production" and any(not e.startswith("https://") for e in self.fhir_allowlist):
            raise SettingsError(f"{PREFIX}FHIR_SERVER_ALLOWLIST: the production profile fetches over https only")
        if self.lookback_days < self.current_window_days:
            raise SettingsError(f"{PREFIX}LOOKBACK_DAYS must not be shorter than {PREFIX}CURRENT_WINDOW_DAYS")
        for entry in self.duffy_null_codes:
            system, _, code = entry.rpartition("|")
            if not system or not code:
                raise SettingsError(f"{PREFIX}DUFFY_NULL_CODES entries must be system|code, not {entry!r}")
        if self.fixed_now is not None:
            if self.profile == "production":
                raise SettingsError(f"{PREFIX}NOW is for demonstrations and tests; the production profile refuses it")
            if self.fixed_now.tzinfo is None:
                raise SettingsError(f"{PREFIX}NOW must carry a time zone, e.g. 2026-11-25T12:00:00Z")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Settings from the environment; keyword overrides (from the command line) win."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for name, kind in (("profile", str), ("host", str), ("port", int), ("workers", int),
                           ("current_window_days", int), ("lookback_days", int), ("max_body_bytes", int),
                           ("fhir_connect_timeout", float), ("fhir_read_timeout", float),
                           ("fhir_budget_seconds", float), ("fhir_max_pages", int), ("fhir_lookback_days", int),
                           ("fhir_max_response_bytes", int)):
            raw = env.get(PREFIX + name.upper())
            if raw is None or raw == "":
                continue
            try:
                values[name] = kind(raw)
            except ValueError:
                raise SettingsError(f"{PREFIX}{name.upper()} must be a number, not {raw!r}") from None
        if env.get(PREFIX + "DUFFY_NULL_CODES"):
            values["duffy_null_codes"] = tuple(
                c.strip() for c in env[PREFIX + "DUFFY_NULL_CODES"].split(",") if c.strip())
        if PREFIX + "FHIR_SERVER_ALLOWLIST" in env:
            values["fhir_server_allowlist"] = tuple(
                o.strip() for o in env[PREFIX + "FHIR_SERVER_ALLOWLIST"].split(",") if o.strip())
        if env.get(PREFIX + "CARDS_DIR"):
            values["cards_dir"] = Path(env[PREFIX + "CARDS_DIR"])
        if env.get(PREFIX + "NOW"):
            try:
                values["fixed_now"] = datetime.fromisoformat(env[PREFIX + "NOW"])
            except ValueError:
                raise SettingsError(f"{PREFIX}NOW must be an ISO 8601 date-time, not {env[PREFIX + 'NOW']!r}") from None
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]
