"""CDS Hooks 2.0 security: one test per JWT rule. Valid ES384/RS384 pass; everything else is a bare 401."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt as pyjwt
import pytest
from flask import Flask

from cds_service.app import create_app
from cds_service.security.jwt_auth import JwksCache, Unauthorized
from cds_service.settings import Settings, SettingsError, TrustedIssuer
from tests.builders import NOW, anc, hook_request
from tests.contract import assert_operation_outcome
from tests.jwt_issuer import ISSUER, JwksServer, es384, hs256_with_public_key, rs384, serve_jwks, token, unsigned_token

BASE = "https://cds.test.example"
DISCOVERY = f"{BASE}/cds-services"
SERVICE = f"{BASE}/cds-services/neutropenia-patient-view"
ES, RS, ROGUE = es384(), rs384(), es384("es384-1")  # ROGUE: another key claiming ES's kid


@pytest.fixture(scope="module")
def jwks() -> Iterator[JwksServer]:
    yield from serve_jwks(JwksServer(sets={"main": [ES, RS], "rotated": [ES], "elsewhere": [ROGUE]}))


def production(jwks: JwksServer, **issuer: Any) -> Flask:
    trusted = TrustedIssuer(iss=ISSUER, jwks_url=jwks.url("main"), **issuer)
    settings = Settings(profile="production", public_base_url=BASE, trusted_issuers=(trusted,),
                        fhir_server_allowlist=("https://fhir.test.example",))
    return create_app(settings, clock=lambda: NOW)


def _discover(app: Flask, bearer: str | None) -> Any:
    headers = {"Authorization": f"Bearer {bearer}"} if bearer is not None else {}
    return app.test_client().get("/cds-services", headers=headers)


def _assert_bare_401(response: Any) -> None:
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert assert_operation_outcome(response.get_json()) == "authorization failed"  # no detail


@pytest.mark.parametrize("key", [ES, RS], ids=["ES384", "RS384"])
def test_valid_token_passes(jwks: JwksServer, key: Any) -> None:
    assert _discover(production(jwks), token(key, DISCOVERY)).status_code == 200


def test_a_replay_store_that_cannot_be_reached_is_a_503_never_a_500_nor_a_pass(jwks: JwksServer,
                                                                                tmp_path: Path) -> None:
    """(it was a 500) Redis down: the token cannot be checked against the ids already used -- refused with 503 and
    a FHIR OperationOutcome (transient: send again), never let through unchecked. Port 1 of 127.0.0.1 refuses."""
    settings = Settings(profile="production", public_base_url=BASE, data_dir=tmp_path,
                        trusted_issuers=(TrustedIssuer(iss=ISSUER, jwks_url=jwks.url("main")),),
                        fhir_server_allowlist=("https://fhir.test.example",), replay_cache_url="redis://127.0.0.1:1/0")
    app = create_app(settings, clock=lambda: NOW)
    response = app.test_client().post("/cds-services/neutropenia-patient-view", json=hook_request(anc(420)),
                                      headers={"Authorization": f"Bearer {token(ES, SERVICE)}"})
    assert response.status_code == 503
    assert assert_operation_outcome(response.get_json(), "send the call again")
    assert response.get_json()["issue"][0]["code"] == "transient"
    assert _discover(app, token(ES, DISCOVERY)).status_code == 503


def test_valid_token_on_a_service_call(jwks: JwksServer) -> None:
    response = production(jwks).test_client().post(
        "/cds-services/neutropenia-patient-view", json=hook_request(anc(420)),
        headers={"Authorization": f"Bearer {token(ES, SERVICE)}"})
    assert response.status_code == 200 and len(response.get_json()["cards"]) == 1


@pytest.mark.parametrize("make", [
    lambda: unsigned_token(DISCOVERY),  # alg none
    lambda: hs256_with_public_key(ES, DISCOVERY),  # HS256 keyed with the public key
    lambda: token(ES, DISCOVERY, lifetime=-120),  # expired (beyond the 30 s leeway)
    lambda: token(ES, DISCOVERY, nbf=int(NOW.timestamp()) + 10**9),  # not yet valid
    lambda: token(ES, DISCOVERY, iat=4102444800),  # issued in the future
    lambda: token(ES, SERVICE),  # aud is another endpoint
    lambda: token(ES, "https://attacker.example/cds-services"),  # wrong aud
    lambda: token(ES, DISCOVERY, iss="https://untrusted.example"),  # unknown iss
    lambda: token(ROGUE, DISCOVERY),  # bad signature: another key under a known kid
    lambda: token(es384("unknown-kid"), DISCOVERY),  # unknown kid
    lambda: "not.a.jwt",
    lambda: "",
])
def test_invalid_token_is_401(jwks: JwksServer, make: Any) -> None:
    _assert_bare_401(_discover(production(jwks), make()))


@pytest.mark.parametrize("claim", ["jti", "exp", "iat"])
def test_required_claims(jwks: JwksServer, claim: str) -> None:
    body = pyjwt.decode(token(ES, DISCOVERY), options={"verify_signature": False})
    del body[claim]
    bare = pyjwt.encode(body, ES.private, algorithm="ES384", headers={"kid": ES.kid})
    _assert_bare_401(_discover(production(jwks), bare))


def test_jku_not_allowlisted_is_401_and_never_fetched(jwks: JwksServer) -> None:
    app = production(jwks)
    bad = jwks.url("elsewhere")
    _assert_bare_401(_discover(app, token(ROGUE, DISCOVERY, headers={"jku": bad})))
    assert "/elsewhere.json" not in jwks.fetched


def test_jku_on_the_issuers_allowlist_is_used(jwks: JwksServer) -> None:
    app = production(jwks, jku_allowlist=(jwks.url("rotated"),))
    assert _discover(app, token(ES, DISCOVERY, headers={"jku": jwks.url("rotated")})).status_code == 200
    assert "/rotated.json" in jwks.fetched


def test_unknown_kid_refreshes_the_key_set(jwks: JwksServer) -> None:
    app = production(jwks)
    assert _discover(app, token(ES, DISCOVERY)).status_code == 200
    new_key = es384("es384-2")
    jwks.sets["main"] = [ES, RS, new_key]  # the issuer rotates in a new key
    app.extensions["cds_verifier"].jwks.cooldown = 0
    assert _discover(app, token(new_key, DISCOVERY)).status_code == 200


def test_replayed_jti_is_401(jwks: JwksServer) -> None:
    app = production(jwks)
    once = token(ES, DISCOVERY)
    assert _discover(app, once).status_code == 200
    _assert_bare_401(_discover(app, once))


@pytest.mark.parametrize(("tenant", "status"), [("hospital-a", 200), ("hospital-b", 401), (None, 401)])
def test_tenant(jwks: JwksServer, tenant: str | None, status: int) -> None:
    app = production(jwks, tenants=("hospital-a",))
    claims = {"tenant": tenant} if tenant else {}
    assert _discover(app, token(ES, DISCOVERY, **claims)).status_code == status


def test_production_requires_a_token(jwks: JwksServer) -> None:
    _assert_bare_401(_discover(production(jwks), None))
    response = production(jwks).test_client().get("/cds-services", headers={"Authorization": "Basic dXNlcjpwdw=="})
    _assert_bare_401(response)


def test_dev_checks_a_token_only_when_sent(jwks: JwksServer) -> None:
    trusted = TrustedIssuer(iss=ISSUER, jwks_url=jwks.url("main"))
    app = create_app(Settings(trusted_issuers=(trusted,)), clock=lambda: NOW)
    assert app.test_client().get("/cds-services").status_code == 200
    dev_audience = "http://localhost/cds-services"  # dev: the request's own URL
    assert _discover(app, token(ES, dev_audience)).status_code == 200
    _assert_bare_401(_discover(app, token(ES, DISCOVERY)))


def test_health_needs_no_token(jwks: JwksServer) -> None:
    assert production(jwks).test_client().get("/healthz").status_code == 200


def test_settings_never_accept_symmetric_or_none_algorithms() -> None:
    for algorithm in ("HS256", "none", "HS512"):
        with pytest.raises(SettingsError, match="algorithms must be among"):
            TrustedIssuer(iss=ISSUER, jwks_url="https://ehr.test.example/jwks.json", algorithms=(algorithm,))
    with pytest.raises(SettingsError, match="must be https"):
        TrustedIssuer(iss=ISSUER, jwks_url="http://ehr.test.example/jwks.json")


# -- a configured key set (a file, or inline in the TOML) is what a token is verified against ------------------------
UNREACHABLE = "https://keys.unreachable.test/jwks.json"  # never fetched: resolving it would fail the test


def _configured(jwks: JwksServer, tmp_path: Path, how: str, **issuer: Any) -> Flask:
    key_set = {"keys": [ES.public_jwk, RS.public_jwk]}
    table: dict[str, Any] = {"iss": ISSUER, "jwks_url": UNREACHABLE, **issuer}
    if how == "file":
        (tmp_path / "ehr-jwks.json").write_text(json.dumps(key_set))
        table["jwks_file"] = str(tmp_path / "ehr-jwks.json")
    else:
        table["jwks"] = key_set
    settings = Settings(profile="production", public_base_url=BASE, trusted_issuers=(TrustedIssuer.from_table(table),),
                        fhir_server_allowlist=("https://fhir.test.example",))
    return create_app(settings, clock=lambda: NOW)


@pytest.mark.parametrize("how", ["file", "inline"])
@pytest.mark.parametrize("headers", [{}, {"jku": UNREACHABLE}], ids=["no-jku", "jku-is-the-configured-url"])
def test_a_configured_key_set_verifies_without_any_fetch(jwks: JwksServer, tmp_path: Path, how: str,
                                                         headers: dict[str, str]) -> None:
    fetched = len(jwks.fetched)
    app = _configured(jwks, tmp_path, how)
    assert _discover(app, token(ES, DISCOVERY, headers=headers)).status_code == 200
    assert _discover(app, token(RS, DISCOVERY, headers=headers)).status_code == 200
    _assert_bare_401(_discover(app, token(ROGUE, DISCOVERY)))  # a known kid, another key: bad signature
    assert len(jwks.fetched) == fetched


@pytest.mark.parametrize("how", ["file", "inline"])
def test_with_a_configured_key_set_a_jku_is_followed_only_from_the_allowlist(jwks: JwksServer, tmp_path: Path,
                                                                             how: str) -> None:
    app = _configured(jwks, tmp_path, how)
    _assert_bare_401(_discover(app, token(ROGUE, DISCOVERY, headers={"jku": jwks.url("elsewhere")})))
    assert "/elsewhere.json" not in jwks.fetched
    allowed = _configured(jwks, tmp_path, how, jku_allowlist=[jwks.url("rotated")])
    assert _discover(allowed, token(ES, DISCOVERY, headers={"jku": jwks.url("rotated")})).status_code == 200
    assert "/rotated.json" in jwks.fetched


def test_the_dev_profile_verifies_sandbox_tokens_against_the_shipped_key_set(jwks: JwksServer) -> None:
    """The Sandbox's issuer and kid, its jku, but another signature: refused -- by the shipped key set, offline."""
    impostor = es384("44823f3d-0b01-4a6c-a80e-b9d3e8a7226f")  # the Sandbox's kid, another private key
    app = create_app(Settings(), clock=lambda: NOW)
    verifier = app.extensions["cds_verifier"]
    assert list(verifier.configured["https://sandbox.cds-hooks.org"]) == [impostor.kid]
    sandbox_token = token(impostor, "http://localhost/cds-services", iss="https://sandbox.cds-hooks.org",
                          headers={"jku": "https://sandbox.cds-hooks.org/.well-known/jwks.json"})
    verifier.jwks.key = None  # any fetch now fails the test with a TypeError, not a quiet network call
    _assert_bare_401(_discover(app, sandbox_token))


@pytest.mark.parametrize(("table", "text"), [
    ({"iss": ISSUER}, "needs jwks_url, jwks_file or jwks"),
    ({"iss": ISSUER, "jwks": {"keys": "none"}}, "not a usable JWK Set"),
    ({"iss": ISSUER, "jwks_file": "/nonexistent/jwks.json"}, "jwks_file"),
    ({"iss": ISSUER, "jwks": {"keys": []}, "jwks_file": "x"}, "jwks_file or jwks, not both"),
])
def test_a_bad_configured_key_set_is_a_clear_settings_error(table: dict[str, Any], text: str) -> None:
    with pytest.raises(SettingsError, match=text):
        TrustedIssuer.from_table(table)


def test_a_401_reaches_the_operator_with_its_reason_and_hook_instance_never_the_token(
        jwks: JwksServer, caplog: pytest.LogCaptureFixture) -> None:
    expired = token(ES, SERVICE, lifetime=-120)
    with caplog.at_level(logging.WARNING):
        response = production(jwks).test_client().post(
            "/cds-services/neutropenia-patient-view", json=hook_request(anc(420)),
            headers={"Authorization": f"Bearer {expired}"})
    _assert_bare_401(response)
    [line] = [r.getMessage() for r in caplog.records if r.name == "cds_service.http.errors"]
    assert line.startswith("401 POST /cds-services/neutropenia-patient-view service=neutropenia-patient-view "
                           "hookInstance=d1577c69-dfbe-44ad-ba6d-3e05e953b2ea: JWT rejected: ExpiredSignatureError")
    assert expired not in caplog.text and expired.split(".")[2] not in caplog.text


@pytest.mark.parametrize("url", ["https://ehr.test.example\\@127.0.0.1/jwks.json", "https://user@ehr.test.example/j",
                                 "https://ehr.test.example /jwks.json", "https://[/jwks.json"])
def test_a_key_set_url_is_parsed_once_as_it_is_fetched(url: str) -> None:
    with pytest.raises(SettingsError, match="must be https"):
        TrustedIssuer(iss=ISSUER, jwks_url=url)


# -- the issuer's key server out: the last good set, failures remembered, no call waiting on a fetch just failed -----
class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _outage_app(jwks: JwksServer, clock: _Clock) -> Flask:
    app = production(jwks)
    app.extensions["cds_verifier"].jwks = JwksCache(lifespan=300, cooldown=30, keep_last_good=24 * 3600, clock=clock)
    return app


@pytest.fixture
def outage_jwks() -> Iterator[JwksServer]:
    yield from serve_jwks(JwksServer(sets={"main": [ES, RS]}))


def test_while_the_key_server_is_down_the_last_good_key_set_is_used(outage_jwks: JwksServer) -> None:
    clock = _Clock()
    app = _outage_app(outage_jwks, clock)
    assert _discover(app, token(ES, DISCOVERY)).status_code == 200
    outage_jwks.down = True
    clock.now += 301  # the set is due for a refresh, and the refresh fails
    fetched = len(outage_jwks.fetched)
    assert _discover(app, token(ES, DISCOVERY)).status_code == 200  # the last good set
    assert len(outage_jwks.fetched) == fetched + 1
    clock.now += 10  # within the cooldown: nothing is fetched, nobody waits
    assert _discover(app, token(ES, DISCOVERY)).status_code == 200
    assert len(outage_jwks.fetched) == fetched + 1
    clock.now += 24 * 3600  # past the bound on the last good set: refused
    _assert_bare_401(_discover(app, token(ES, DISCOVERY)))


def test_with_no_good_set_a_failed_fetch_is_remembered_for_the_cooldown(outage_jwks: JwksServer) -> None:
    clock = _Clock()
    app = _outage_app(outage_jwks, clock)
    outage_jwks.down = True
    _assert_bare_401(_discover(app, token(ES, DISCOVERY)))
    fetched = len(outage_jwks.fetched)
    _assert_bare_401(_discover(app, token(ES, DISCOVERY)))  # refused at once: the fetch just failed
    assert len(outage_jwks.fetched) == fetched
    outage_jwks.down = False
    clock.now += 31
    assert _discover(app, token(ES, DISCOVERY)).status_code == 200


def test_a_key_server_that_trickles_its_key_set_costs_a_call_the_fetch_timeout() -> None:
    # every call of a worker waits on a key set being fetched: the whole read is bounded, not each byte's wait
    for server in serve_jwks(JwksServer(sets={"main": [ES, RS]}, trickle=True)):
        cache = JwksCache(timeout=0.5)
        started = time.monotonic()
        with pytest.raises(Unauthorized, match="TooSlow"):
            cache.key(server.url("main"), ES.kid)
        assert time.monotonic() - started < 1.5  # the set is some 1,000 bytes: 50 s at this pace


@pytest.mark.parametrize("claims", [{"exp": "4102444800"}, {"iat": "1700000000"}, {"nbf": "1700000000"},
                                    {"exp": True}, {"iat": None}, {"exp": [1]}])
def test_a_time_claim_that_is_not_a_number_is_401(jwks: JwksServer, claims: dict[str, Any]) -> None:
    _assert_bare_401(_discover(production(jwks), token(ES, DISCOVERY, **claims)))


@pytest.mark.parametrize("exp", [4102444800 + 10**12, 1e300], ids=["year-33000", "1e300"])
def test_a_signed_token_that_expires_later_than_a_jti_can_be_remembered_is_401(jwks: JwksServer, exp: float) -> None:
    # a jti is remembered until its token expires (CDS Hooks 2.0: never reused); no store holds a time past 9999
    _assert_bare_401(_discover(production(jwks), token(ES, DISCOVERY, exp=exp)))


def test_a_token_valid_for_years_is_still_accepted_and_its_jti_remembered(jwks: JwksServer) -> None:
    # CDS Hooks 2.0 sets no longest lifetime; a replay of such a token is refused like any other
    app = production(jwks)
    long_lived = token(ES, DISCOVERY, lifetime=30 * 365 * 86400)
    assert _discover(app, long_lived).status_code == 200
    _assert_bare_401(_discover(app, long_lived))


def test_an_rsa_key_published_without_alg_serves_rs384() -> None:
    bare = rs384("rs-no-alg")
    bare.publish_alg = False
    for server in serve_jwks(JwksServer(sets={"main": [bare]})):
        assert _discover(production(server), token(bare, DISCOVERY)).status_code == 200


def test_a_key_published_for_another_algorithm_is_refused() -> None:
    key = rs384("rs-published-as-256")
    published = {"keys": [{**key.public_jwk, "alg": "RS256"}]}
    trusted = TrustedIssuer.from_table({"iss": ISSUER, "jwks": published, "algorithms": ["RS256", "RS384"]})
    app = create_app(Settings(profile="production", public_base_url=BASE, trusted_issuers=(trusted,),
                              fhir_server_allowlist=("https://fhir.test.example",)), clock=lambda: NOW)
    _assert_bare_401(_discover(app, token(key, DISCOVERY)))  # an RS384 token, a key published for RS256


def test_a_replay_is_counted_as_a_replay_cache_hit(jwks: JwksServer) -> None:
    app = production(jwks)
    once = token(ES, DISCOVERY)

    def hits() -> float:
        text = app.test_client().get("/metrics").get_data(as_text=True)
        return next(float(line.split()[-1]) for line in text.splitlines()
                    if line.startswith("cds_replay_cache_hits_total"))

    before = hits()
    assert _discover(app, once).status_code == 200
    _assert_bare_401(_discover(app, once))
    assert hits() == before + 1
