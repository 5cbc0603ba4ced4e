"""Settings: the TOML file, the environment, the profiles and their start-up refusals."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from cds_service.cli import main
from cds_service.settings import SANDBOX_ISSUER, Settings, SettingsError

PRODUCTION = """
profile = "production"
public_base_url = "https://cds.hospital.example"
host = "0.0.0.0"
port = 9000
fhir_server_allowlist = ["https://fhir.hospital.example"]
cors_origins = ["https://ehr.hospital.example"]
replay_cache_url = "redis://127.0.0.1:6379/0"
max_body_bytes = 2000000

[[trusted_issuers]]
iss = "https://ehr.hospital.example"
jwks_url = "https://ehr.hospital.example/.well-known/jwks.json"
jku_allowlist = ["https://ehr.hospital.example/keys-2.json"]
tenants = ["north"]
algorithms = ["ES384"]
"""


def test_toml_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "cds.toml"
    path.write_text(PRODUCTION)
    settings = Settings.load(path, environ={})
    assert settings.profile == "production" and settings.port == 9000 and settings.host == "0.0.0.0"
    (issuer,) = settings.issuers
    assert issuer.tenants == ("north",) and issuer.algorithms == ("ES384",)
    assert settings.cors == ("https://ehr.hospital.example",)
    assert settings.require_jwt


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    path = tmp_path / "cds.toml"
    path.write_text(PRODUCTION)
    settings = Settings.load(environ={"NEUTROPENIA_CDS_CONFIG": str(path), "NEUTROPENIA_CDS_PORT": "9100"})
    assert settings.port == 9100


@pytest.mark.parametrize(("remove", "message"), [
    ('public_base_url = "https://cds.hospital.example"\n', "without public_base_url"),
    ('fhir_server_allowlist = ["https://fhir.hospital.example"]\n', "without fhir_server_allowlist"),
])
def test_production_refuses_to_start_without(tmp_path: Path, remove: str, message: str) -> None:
    path = tmp_path / "cds.toml"
    path.write_text(PRODUCTION.replace(remove, ""))
    with pytest.raises(SettingsError, match=message):
        Settings.load(path, environ={})


def test_production_refuses_to_start_without_issuers() -> None:
    with pytest.raises(SettingsError, match="without trusted_issuers"):
        Settings(profile="production", public_base_url="https://cds.example", fhir_server_allowlist=("https://f.x",))


@pytest.mark.parametrize(("text", "message"), [
    ('fhir_server_allowlist = ["http://fhir.hospital.example"]', "https only"),
    ('public_base_url = "http://cds.hospital.example"', "served over https"),
])
def test_production_needs_https(tmp_path: Path, text: str, message: str) -> None:
    key = text.split(" = ", maxsplit=1)[0]
    path = tmp_path / "cds.toml"
    lines = [line for line in PRODUCTION.splitlines() if not line.startswith(key + " ")]
    path.write_text(text + "\n" + "\n".join(lines))
    with pytest.raises(SettingsError, match=message):
        Settings.load(path, environ={})


def test_dev_defaults() -> None:
    settings = Settings.load(environ={})
    assert settings.profile == "dev" and settings.host == "127.0.0.1" and not settings.require_jwt
    assert settings.issuers == (SANDBOX_ISSUER,)
    assert "https://sandbox.cds-hooks.org" in settings.cors


@pytest.mark.parametrize(("content", "message"), [
    ("profile = 'staging'", "profile must be one of"),
    ("port = 'eighty'", "port has the wrong type"),
    ("colour = 'blue'", "unknown settings"),
    ("[[trusted_issuers]]\niss = 'x'", "needs jwks_url, jwks_file or jwks"),
    ("replay_cache_url = 'memcached://x'", "replay_cache_url must be"),
    ("time_zone = 'Mars/Olympus_Mons'", "time_zone must be an IANA time zone name"),
    ("time_zone = 'EST5EDT/../../etc'", "time_zone must be an IANA time zone name"),
    ("time_zone = ''", "time_zone must be an IANA time zone name"),
    ("not toml at all [", "config file"),
])
def test_bad_file_is_a_clear_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "cds.toml"
    path.write_text(content)
    with pytest.raises(SettingsError, match=message):
        Settings.load(path, environ={})


def test_bad_environment_value_names_the_variable() -> None:
    with pytest.raises(SettingsError, match="NEUTROPENIA_CDS_PORT"):
        Settings.load(environ={"NEUTROPENIA_CDS_PORT": "eighty"})


def test_serve_refuses_to_start_in_production_without_issuers(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "cds.toml"
    path.write_text('profile = "production"\npublic_base_url = "https://cds.example"\n'
                    'fhir_server_allowlist = ["https://fhir.example"]\n')
    assert main(["--config", str(path), "serve"]) == 2
    assert "refuses to start without trusted_issuers" in capsys.readouterr().err


def test_the_readme_example_file_is_valid(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    example = readme.split("```toml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "cds.toml"
    path.write_text(example)
    settings = Settings.load(path, environ={})
    assert settings.profile == "production" and settings.require_jwt


def test_the_site_time_zone_is_read_from_the_environment() -> None:
    settings = Settings.load(environ={"NEUTROPENIA_CDS_TIME_ZONE": "America/Chicago"})
    assert settings.zone == ZoneInfo("America/Chicago")
    assert Settings().time_zone == "UTC" and Settings().zone is UTC
