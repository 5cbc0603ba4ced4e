"""The JWT replay cache in a real Redis (redis-server from Debian, started on 127.0.0.1 by pytest-redis): a
token used on one app instance is refused by another that shares the Redis, as replicas would."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis
from flask import Flask

from cds_service.app import create_app
from cds_service.security.replay import RedisReplayCache
from cds_service.settings import Settings, TrustedIssuer
from tests.builders import NOW
from tests.jwt_issuer import ISSUER, JwksServer, es384, serve_jwks, token

pytestmark = pytest.mark.integration
BASE = "https://cds.test.example"
KEY = es384()


@pytest.fixture(scope="module")
def jwks() -> Iterator[JwksServer]:
    yield from serve_jwks(JwksServer(sets={"main": [KEY]}))


def _replica(jwks: JwksServer, redis_url: str) -> Flask:
    settings = Settings(profile="production", public_base_url=BASE, replay_cache_url=redis_url,
                        trusted_issuers=(TrustedIssuer(iss=ISSUER, jwks_url=jwks.url("main")),),
                        fhir_server_allowlist=("https://fhir.test.example",))
    return create_app(settings, clock=lambda: NOW)


def test_replay_is_refused_across_two_instances_sharing_redis(jwks: JwksServer, redis_proc: Any) -> None:
    url = f"redis://{redis_proc.host}:{redis_proc.port}/0"
    first, second = _replica(jwks, url), _replica(jwks, url)
    once = {"Authorization": f"Bearer {token(KEY, f'{BASE}/cds-services')}"}
    assert first.test_client().get("/cds-services", headers=once).status_code == 200
    assert second.test_client().get("/cds-services", headers=once).status_code == 401
    fresh = {"Authorization": f"Bearer {token(KEY, f'{BASE}/cds-services')}"}
    assert second.test_client().get("/cds-services", headers=fresh).status_code == 200


def test_redis_entry_expires_with_the_token(redis_proc: Any) -> None:
    cache = RedisReplayCache(f"redis://{redis_proc.host}:{redis_proc.port}/0")
    assert cache.first_use("iss|ttl-test", 1)
    assert not cache.first_use("iss|ttl-test", 1)
    client = redis.Redis(host=redis_proc.host, port=redis_proc.port)
    assert 0 < client.ttl(RedisReplayCache.PREFIX + "iss|ttl-test") <= 1
