"""One typed Settings object: a TOML file (--config FILE or NEUTROPENIA_CDS_CONFIG), then NEUTROPENIA_CDS_*
environment variables, then command-line options -- each later source winning -- checked at start."""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
import sysconfig
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jwt

from cds_service.fhir.client import Allowlist, FhirLimits
from cds_service.urls import BadUrl, parse_url

PREFIX = "NEUTROPENIA_CDS_"
PROFILES = ("dev", "production")
# The dev profile may fetch from this machine and from the public CDS Hooks Sandbox FHIR servers.
DEV_FHIR_ALLOWLIST = ("http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*",
                      "https://launch.smarthealthit.org", "https://r4.smarthealthit.org")
# The dev profile answers browsers on this machine and the public CDS Hooks Sandbox.
DEV_CORS_ORIGINS = (r"http://localhost(:\d+)?", r"http://127\.0\.0\.1(:\d+)?", "https://sandbox.cds-hooks.org")
# CDS Hooks 2.0 security: asymmetric signatures only. HS* and "none" can never be configured.
DEFAULT_ALGORITHMS = ("ES384", "RS384")
ALLOWED_ALGORITHMS = frozenset({"ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})


class SettingsError(ValueError):
    """A setting is missing or invalid; the message names the setting."""


def default_cards_dir() -> Path:
    """cards/ beside the package in a source checkout, else where the wheel installs it (share/neutropenia-cds)."""
    checkout = Path(__file__).resolve().parent.parent / "cards"
    if checkout.is_dir():
        return checkout
    return Path(sysconfig.get_path("data")) / "share" / "neutropenia-cds" / "cards"


def default_fixtures_dir() -> Path:
    """fixtures/ beside the package in a source checkout (the review page's scenarios)."""
    return Path(__file__).resolve().parent.parent / "fixtures"


def _is_loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def secure_url(url: str) -> bool:
    """https, or http to a loopback address (tests, a sidecar): where keys and tokens may come from. Read by the
    one parse of cds_service/urls.py, as the key set is then fetched."""
    try:
        parts = parse_url(url)
    except BadUrl:
        return False
    return parts.scheme == "https" or (parts.scheme == "http" and _is_loopback(parts.host.strip("[]")))


@dataclass(frozen=True)
class TrustedIssuer:
    """A CDS client (an EHR) allowed to call: its `iss`, where its keys are, what it may sign with."""

    iss: str
    jwks_url: str = ""  # where its key set is fetched from, unless `jwks` gives the keys
    jku_allowlist: tuple[str, ...] = ()  # a JWT's `jku` is followed only if it is one of these
    tenants: tuple[str, ...] = ()  # when set, the JWT's `tenant` claim must be one of these
    algorithms: tuple[str, ...] = DEFAULT_ALGORITHMS
    jwks: str = ""  # the key set itself (JWK Set JSON), from `jwks_file` or inline in the TOML: never fetched

    def __post_init__(self) -> None:
        where = f"trusted_issuers[{self.iss!r}]"
        if not self.iss:
            raise SettingsError("trusted_issuers: every issuer needs an iss")
        if not self.jwks_url and not self.jwks:
            raise SettingsError(f"{where}: needs jwks_url, jwks_file or jwks (the issuer's key set)")
        if self.jwks:
            try:
                keys = jwt.PyJWKSet.from_json(self.jwks).keys
            except (jwt.PyJWKSetError, ValueError) as exc:
                raise SettingsError(f"{where}: the key set is not a usable JWK Set ({exc})") from None
            if len(keys) > 1 and any(k.key_id is None for k in keys):
                raise SettingsError(f"{where}: every key of a set of several needs a kid")
        for url in (*([self.jwks_url] if self.jwks_url else []), *self.jku_allowlist):
            if not secure_url(url):
                raise SettingsError(f"{where}: {url!r} must be https (or http on a loopback address)")
        bad = [a for a in self.algorithms if a not in ALLOWED_ALGORITHMS]
        if bad or not self.algorithms:
            raise SettingsError(f"{where}: algorithms must be among {sorted(ALLOWED_ALGORITHMS)}, not {bad}")

    @classmethod
    def from_table(cls, table: Any) -> TrustedIssuer:
        if not isinstance(table, dict) or not isinstance(table.get("iss"), str):
            raise SettingsError("trusted_issuers: each entry needs an iss string")
        unknown = set(table) - {"iss", "jwks_url", "jwks_file", "jwks", "jku_allowlist", "tenants", "algorithms"}
        if unknown:
            raise SettingsError(f"trusted_issuers[{table['iss']!r}]: unknown keys {sorted(unknown)}")
        given = [name for name in ("jwks_url", "jwks_file", "jwks") if name in table]
        if not given:
            raise SettingsError(f"trusted_issuers[{table['iss']!r}]: needs jwks_url, jwks_file or jwks")
        if "jwks_file" in table and "jwks" in table:
            raise SettingsError(f"trusted_issuers[{table['iss']!r}]: jwks_file or jwks, not both")
        jwks = table.get("jwks", "")
        if "jwks_file" in table:
            try:
                jwks = Path(table["jwks_file"]).read_text(encoding="utf-8")
            except (OSError, TypeError) as exc:
                raise SettingsError(f"trusted_issuers[{table['iss']!r}]: jwks_file: {exc}") from None
        if isinstance(jwks, dict):
            jwks = json.dumps(jwks)
        if not isinstance(jwks, str) or not isinstance(table.get("jwks_url", ""), str):
            raise SettingsError(f"trusted_issuers[{table['iss']!r}]: jwks must be a JWK Set, jwks_url a string")
        return cls(
            iss=table["iss"],
            jwks_url=table.get("jwks_url", ""),
            jku_allowlist=tuple(table.get("jku_allowlist", ())),
            tenants=tuple(table.get("tenants", ())),
            algorithms=tuple(table.get("algorithms", DEFAULT_ALGORITHMS)),
            jwks=jwks,
        )


# The CDS Hooks Sandbox signs with ES384 and points `jku` at its key set; the dev profile trusts it, with that key set
# shipped beside this module (copied from cds-hooks/sandbox build/.well-known/jwks.json, Apache-2.0), so the Sandbox
# works offline and its `jku` is never fetched. Its private key is public: trust it in the dev profile only.
SANDBOX_ISSUER = TrustedIssuer(
    iss="https://sandbox.cds-hooks.org",
    jwks_url="https://sandbox.cds-hooks.org/.well-known/jwks.json",
    jwks=resources.files("cds_service.security").joinpath("cds-hooks-sandbox-jwks.json").read_text(encoding="utf-8"),
)


@dataclass(frozen=True)
class Settings:
    """Every setting of the service, with its default (README, Configuration)."""

    profile: str = "dev"
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 2
    threads: int = 8  # per worker: how many calls one worker answers at once
    cards_dir: Path = field(default_factory=default_cards_dir)
    # The URL EHRs call the service at; JWT `aud` must be an endpoint under it. Dev: the request's own URL.
    public_base_url: str | None = None
    trusted_issuers: tuple[TrustedIssuer, ...] | None = None  # None: the profile's default
    cors_origins: tuple[str, ...] | None = None  # None: the profile's default
    # Answer Chromium's private-network preflight (a public page such as the CDS Hooks Sandbox calling a service on
    # localhost or a private address) with Access-Control-Allow-Private-Network: true. None: dev yes, production no.
    cors_private_network: bool | None = None
    # JWT ids already accepted: "" the feedback store's database (shared by every worker and every replica that uses
    # it), redis://... Redis, "memory" this process only (never in production: workers and replicas would not share)
    replay_cache_url: str = ""
    data_dir: Path = Path("var")  # the SQLite feedback store lives here unless database_url is set
    database_url: str = ""  # e.g. postgresql+psycopg://user:password@host/db
    jwt_leeway_seconds: int = 30
    max_body_bytes: int = 10 * 1024 * 1024
    # R6 POLICY settings
    current_window_days: int = 7
    lookback_days: int = 90
    # R8: the site's Duffy-null value set, as "system|code" entries
    duffy_null_codes: tuple[str, ...] = ()
    # The site's time zone (an IANA name): dates with no time, calendar days (R7, R8) and the times cards show
    time_zone: str = "UTC"
    # FHIR fallback: the only origins ever fetched (None: the profile's default), and its bounds
    fhir_server_allowlist: tuple[str, ...] | None = None
    fhir_connect_timeout: float = FhirLimits.connect_timeout
    fhir_read_timeout: float = FhirLimits.read_timeout
    fhir_budget_seconds: float = FhirLimits.budget_seconds
    fhir_max_pages: int = FhirLimits.max_pages
    fhir_lookback_days: int = 365
    fhir_max_response_bytes: int = FhirLimits.max_response_bytes
    # R9 drug identity, evidence 5: an RxNav-style REST service ("" off), e.g. https://rxnav.nlm.nih.gov/REST
    terminology_url: str = ""
    terminology_budget_seconds: float = 1.0  # per hook call
    terminology_max_lookups: int = 5  # per hook call
    # The log: level of the one handler `serve` configures (stderr, a plain line a record)
    log_level: str = "INFO"
    log_format: str = "plain"  # or "json": one JSON object a line
    # Evaluate as if it were this moment (demonstrations and tests); refused in the production profile.
    fixed_now: datetime | None = None
    # GET /preview: every fixture scenario's cards and ANC trend chart, for clinical review. None: dev yes,
    # production no (it shows only the fixtures' made-up patients, but it is no part of a clinical service).
    review_page: bool | None = None
    fixtures_dir: Path = field(default_factory=default_fixtures_dir)
    # The SMART app (the ANC trend, launched from a card's link): the client id the EHR registered it under; "" off.
    # None: dev "neutropenia-cds", production off.
    smart_client_id: str | None = None

    @property
    def zone(self) -> tzinfo:
        """The site's time zone; UTC itself as Python's own (the cheapest to compare times in)."""
        return UTC if self.time_zone == "UTC" else ZoneInfo(self.time_zone)

    @property
    def fhir_allowlist(self) -> tuple[str, ...]:
        if self.fhir_server_allowlist is not None:
            return self.fhir_server_allowlist
        return DEV_FHIR_ALLOWLIST if self.profile == "dev" else ()

    @property
    def issuers(self) -> tuple[TrustedIssuer, ...]:
        if self.trusted_issuers is not None:
            return self.trusted_issuers
        return (SANDBOX_ISSUER,) if self.profile == "dev" else ()

    @property
    def cors(self) -> tuple[str, ...]:
        if self.cors_origins is not None:
            return self.cors_origins
        return DEV_CORS_ORIGINS if self.profile == "dev" else ()

    @property
    def cors_allows_private_network(self) -> bool:
        if self.cors_private_network is not None:
            return self.cors_private_network
        return self.profile == "dev"

    @property
    def smart_client(self) -> str:
        if self.smart_client_id is not None:
            return self.smart_client_id
        return "neutropenia-cds" if self.profile == "dev" else ""

    @property
    def review_page_on(self) -> bool:
        return self.review_page if self.review_page is not None else self.profile == "dev"

    @property
    def require_jwt(self) -> bool:
        """Production: every call carries a valid JWT. Dev: a JWT is checked only when one is sent."""
        return self.profile == "production"

    def __post_init__(self) -> None:
        if self.profile not in PROFILES:
            raise SettingsError(f"profile must be one of {', '.join(PROFILES)}, not {self.profile!r}")
        if not 0 < self.port < 65536:
            raise SettingsError(f"port must be between 1 and 65535, not {self.port}")
        for name in ("workers", "threads", "current_window_days", "lookback_days", "max_body_bytes", "fhir_max_pages",
                     "fhir_lookback_days", "fhir_max_response_bytes", "fhir_connect_timeout", "fhir_read_timeout",
                     "fhir_budget_seconds", "terminology_budget_seconds", "terminology_max_lookups"):
            if getattr(self, name) <= 0:
                raise SettingsError(f"{name} must be a positive number, not {getattr(self, name)!r}")
        if not 0 <= self.jwt_leeway_seconds <= 300:
            raise SettingsError("jwt_leeway_seconds must be between 0 and 300 (a small leeway)")
        if self.lookback_days < self.current_window_days:
            raise SettingsError("lookback_days must not be shorter than current_window_days")
        for entry in self.duffy_null_codes:
            system, _, code = entry.rpartition("|")
            if not system or not code:
                raise SettingsError(f"duffy_null_codes entries must be system|code, not {entry!r}")
        try:
            self.zone  # noqa: B018 -- a name the time zone database does not know is refused at start
        except (ZoneInfoNotFoundError, ValueError):
            raise SettingsError(f"time_zone must be an IANA time zone name such as America/Chicago, not "
                                f"{self.time_zone!r}") from None
        try:
            Allowlist(self.fhir_allowlist)
        except ValueError as exc:
            raise SettingsError(f"fhir_server_allowlist: {exc}") from None
        if self.public_base_url is not None:
            parts = urlsplit(self.public_base_url)
            if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
                raise SettingsError(f"public_base_url must be an http(s) URL, not {self.public_base_url!r}")
        if self.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise SettingsError(f"log_level must be DEBUG, INFO, WARNING or ERROR, not {self.log_level!r}")
        if self.log_format not in ("plain", "json"):
            raise SettingsError(f"log_format must be plain or json, not {self.log_format!r}")
        if self.terminology_url:
            parts = urlsplit(self.terminology_url)
            if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment or (
                    parts.username or parts.password):
                raise SettingsError(f"terminology_url must be an http(s) base URL, not {self.terminology_url!r}")
        if self.replay_cache_url not in ("", "memory") and not self.replay_cache_url.startswith(
                ("redis://", "rediss://", "unix://")):
            raise SettingsError("replay_cache_url must be empty (the database), 'memory' or a redis:// URL")
        if self.profile == "production":
            self._check_production()
        if self.fixed_now is not None:
            if self.profile == "production":
                raise SettingsError("NEUTROPENIA_CDS_NOW is for demonstrations and tests; production refuses it")
            if self.fixed_now.tzinfo is None:
                raise SettingsError("NEUTROPENIA_CDS_NOW must carry a time zone, e.g. 2026-11-25T12:00:00Z")

    def _check_production(self) -> None:
        missing = [name for name, value in (("trusted_issuers", self.issuers),
                                            ("public_base_url", self.public_base_url),
                                            ("fhir_server_allowlist", self.fhir_allowlist)) if not value]
        if missing:
            raise SettingsError(f"the production profile refuses to start without {', '.join(missing)}")
        if any(not e.startswith("https://") for e in self.fhir_allowlist):
            raise SettingsError("fhir_server_allowlist: the production profile fetches over https only")
        if self.public_base_url and not self.public_base_url.startswith("https://"):
            raise SettingsError("public_base_url: the production profile is served over https")
        if self.replay_cache_url == "memory":
            raise SettingsError("replay_cache_url: a replay cache in one process's memory lets a token be replayed on "
                                "every other worker and replica; production uses the database (the default) or Redis")

    @classmethod
    def load(cls, config: str | Path | None = None, environ: Mapping[str, str] | None = None,
             **overrides: object) -> Settings:
        """The TOML file (`config`, else NEUTROPENIA_CDS_CONFIG), then the environment, then `overrides`."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        path = config or env.get(PREFIX + "CONFIG")
        if path:
            values.update(_from_toml(Path(path)))
        values.update(_from_env(env))
        values.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return cls(**values)  # type: ignore[arg-type]
        except TypeError as exc:
            raise SettingsError(str(exc)) from None


def _strings(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _boolean(value: str) -> bool:
    if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
        raise SettingsError(f"{value!r} is not true or false")
    return value.lower() in ("true", "1", "yes")


def _issuers(value: str) -> tuple[TrustedIssuer, ...]:
    return tuple(TrustedIssuer.from_table(t) for t in json.loads(value))


# How each setting is read from a string (environment variables). Settings not listed are TOML-only.
_PARSERS: dict[str, Callable[[str], object]] = {
    "profile": str, "host": str, "port": int, "workers": int, "threads": int, "cards_dir": Path, "public_base_url": str,
    "trusted_issuers": _issuers, "cors_origins": _strings, "cors_private_network": _boolean,
    "replay_cache_url": str, "jwt_leeway_seconds": int,
    "data_dir": Path, "database_url": str,
    "max_body_bytes": int, "current_window_days": int, "lookback_days": int,
    "duffy_null_codes": _strings, "time_zone": str,
    "fhir_server_allowlist": _strings, "fhir_connect_timeout": float, "fhir_read_timeout": float,
    "fhir_budget_seconds": float, "fhir_max_pages": int, "fhir_lookback_days": int, "fhir_max_response_bytes": int,
    "log_level": str, "log_format": str,
    "terminology_url": str, "terminology_budget_seconds": float, "terminology_max_lookups": int,
    "fixed_now": _instant, "review_page": _boolean, "fixtures_dir": Path, "smart_client_id": str,
}
_ENV_NAMES = {name: PREFIX + ("NOW" if name == "fixed_now" else name.upper()) for name in _PARSERS}


def _from_env(env: Mapping[str, str]) -> dict[str, object]:
    values: dict[str, object] = {}
    for name, variable in _ENV_NAMES.items():
        raw = env.get(variable)
        if raw is None or (raw == "" and name not in ("fhir_server_allowlist", "cors_origins", "replay_cache_url")):
            continue
        try:
            values[name] = _PARSERS[name](raw)
        except (ValueError, json.JSONDecodeError) as exc:
            raise SettingsError(f"{variable}: {raw!r} is not valid ({exc})") from None
    return values


_TOML_KINDS: dict[str, tuple[type, ...]] = {
    name: (str,) if parser in (str, Path) else (int,) if parser is int else (int, float) if parser is float else ()
    for name, parser in _PARSERS.items()
}


def _from_toml(path: Path) -> dict[str, object]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"config file {path}: {exc}") from None
    fields = {f.name for f in dataclasses.fields(Settings)}
    unknown = set(data) - fields
    if unknown:
        raise SettingsError(f"config file {path}: unknown settings {sorted(unknown)}")
    values: dict[str, object] = {}
    for name, value in data.items():
        if name == "trusted_issuers":
            if not isinstance(value, list):
                raise SettingsError(f"config file {path}: trusted_issuers must be an array of tables")
            values[name] = tuple(TrustedIssuer.from_table(t) for t in value)
        elif isinstance(value, list):
            if not all(isinstance(v, str) for v in value):
                raise SettingsError(f"config file {path}: {name} must be a list of strings")
            values[name] = tuple(value)
        elif name in ("cards_dir", "data_dir", "fixtures_dir") and isinstance(value, str):
            values[name] = (path.parent / value).resolve()
        elif _PARSERS.get(name) is _boolean:
            if not isinstance(value, bool):
                raise SettingsError(f"config file {path}: {name} must be true or false")
            values[name] = value
        elif name == "fixed_now" and isinstance(value, datetime):
            values[name] = value
        elif (_TOML_KINDS.get(name) and not isinstance(value, _TOML_KINDS[name])) or isinstance(value, bool):
            raise SettingsError(f"config file {path}: {name} has the wrong type ({type(value).__name__})")
        else:
            values[name] = value
    return values
