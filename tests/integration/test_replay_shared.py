"""Replay protection that holds with the defaults: the JWT ids live in the feedback store's database, so every worker
(SQLite on one machine) and every replica (PostgreSQL) refuses a token already used -- tested on both databases,
concurrently, and through `neutropenia-cds serve` with two gunicorn workers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from cds_service.feedback.store import FeedbackStore
from cds_service.security.jwt_auth import TokenVerifier, Unauthorized
from cds_service.security.replay import DatabaseReplayCache
from cds_service.settings import TrustedIssuer
from tests.integration.conftest import running_service
from tests.jwt_issuer import ISSUER, JwksServer, es384, serve_jwks, token

pytestmark = pytest.mark.integration
KEY = es384()


@pytest.fixture(scope="module")
def jwks() -> Iterator[JwksServer]:
    yield from serve_jwks(JwksServer(sets={"main": [KEY]}))


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FeedbackStore]:
    url = (f"sqlite:///{tmp_path / 'store.sqlite3'}" if request.param == "sqlite"
           else request.getfixturevalue("postgres_url"))
    store = FeedbackStore(url)
    store.migrate()
    with store.engine.begin() as connection:
        connection.exec_driver_sql("DELETE FROM jwt_ids")
    yield store
    store.close()


def test_a_jwt_id_is_accepted_once_until_it_expires(store: FeedbackStore) -> None:
    now = datetime.now(UTC)
    assert store.first_use_of_jwt_id("iss|a", now + timedelta(seconds=60), now)
    assert not store.first_use_of_jwt_id("iss|a", now + timedelta(seconds=60), now)
    later = now + timedelta(seconds=61)  # the token has expired: its id may be taken again
    assert store.first_use_of_jwt_id("iss|a", later + timedelta(seconds=60), later)
    assert store.forget_expired_jwt_ids(later + timedelta(seconds=61)) == 1


def test_twenty_concurrent_uses_of_one_id_accept_exactly_one(store: FeedbackStore) -> None:
    caches = [DatabaseReplayCache(FeedbackStore(store.url)) for _ in range(4)]  # as four workers would
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda i: caches[i % 4].first_use("iss|race", 300), range(20)))
    assert results.count(True) == 1


@pytest.mark.parametrize("jti", ["j" * 1000, "\ud800 a lone surrogate"], ids=["1000-characters", "lone-surrogate"])
def test_any_jti_a_trusted_client_signs_is_remembered(store: FeedbackStore, jwks: JwksServer, jti: str) -> None:
    # CDS Hooks 2.0 sets no length or alphabet for a jti: a long one (or one escaping a lone surrogate) is accepted
    # once and refused when replayed, never a 500 from the database
    audience = "https://cds.test.example/cds-services"
    verifier = TokenVerifier((TrustedIssuer(iss=ISSUER, jwks_url=jwks.url("main")),), DatabaseReplayCache(store), 30)
    signed = token(KEY, audience, jti=jti)
    assert verifier.verify(signed, audience)["jti"] == jti
    with pytest.raises(Unauthorized, match="replayed"):
        verifier.verify(signed, audience)


def test_a_token_replayed_across_two_gunicorn_workers_is_accepted_once(jwks: JwksServer, tmp_path: Path) -> None:
    issuers = json.dumps([{"iss": ISSUER, "jwks_url": jwks.url("main")}])
    env = {"NEUTROPENIA_CDS_TRUSTED_ISSUERS": issuers, "NEUTROPENIA_CDS_DATA_DIR": str(tmp_path)}
    with running_service(env, workers=2) as (url, _):
        once = {"Authorization": f"Bearer {token(KEY, f'{url}/cds-services')}"}
        statuses = [requests.get(f"{url}/cds-services", headers=once, timeout=5).status_code for _ in range(20)]
    assert statuses.count(200) == 1 and statuses.count(401) == 19
