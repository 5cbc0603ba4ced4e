"""CDS Hooks 2.0 security: the CDS client's JWT -- signature by the issuer's JWKS, iss, aud, exp/iat/nbf, jti,
tenant -- verified with PyJWT. Any failure is the same bare 401; the reason goes to the log, never the token."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt
import orjson
import requests

from cds_service.security.replay import ReplayCache
from cds_service.settings import TrustedIssuer
from cds_service.urls import BadUrl, parse_url

log = logging.getLogger(__name__)

REQUIRED_CLAIMS = ("iss", "aud", "exp", "iat", "jti")
JWKS_MAX_BYTES = 1024 * 1024


class Unauthorized(Exception):
    """The call is not from a trusted CDS client; the message is for the log only."""


@dataclass
class _KeySet:
    keys: dict[str, jwt.PyJWK]
    fetched_at: float


class JwksCache:
    """Key sets by URL -- only URLs the settings name -- cached, and fetched again on an unknown `kid`
    (at most once per cooldown, so a stream of bogus kids cannot hammer the issuer)."""

    def __init__(self, lifespan: float = 300.0, cooldown: float = 10.0, timeout: float = 3.0) -> None:
        self.lifespan, self.cooldown, self.timeout = lifespan, cooldown, timeout
        self._sets: dict[str, _KeySet] = {}
        self._lock = threading.Lock()
        self._session = requests.Session()
        self._session.trust_env = False

    def key(self, url: str, kid: str | None) -> jwt.PyJWK:
        with self._lock:
            cached = self._sets.get(url)
            now = time.monotonic()
            stale = cached is None or now - cached.fetched_at > self.lifespan
            unknown = cached is not None and (kid is None or kid not in cached.keys)
            if stale or (unknown and cached is not None and now - cached.fetched_at > self.cooldown):
                cached = self._sets[url] = _KeySet(self._fetch(url), now)
        assert cached is not None
        if kid is None:
            if len(cached.keys) == 1:
                return next(iter(cached.keys.values()))
            raise Unauthorized("JWT has no kid and the key set has several keys")
        if kid not in cached.keys:
            raise Unauthorized("JWT kid is not in the issuer's key set")
        return cached.keys[kid]

    def _fetch(self, url: str) -> dict[str, jwt.PyJWK]:
        try:
            target = str(parse_url(url))  # the URL checked in the settings, rebuilt from its checked parts
        except BadUrl:
            raise Unauthorized("JWKS URL is not well-formed") from None
        try:
            with self._session.get(target, timeout=self.timeout, allow_redirects=False, stream=True) as response:
                if response.status_code != 200:
                    raise Unauthorized(f"JWKS answered HTTP {response.status_code}")
                body = response.raw.read(JWKS_MAX_BYTES + 1, decode_content=True)
            if len(body) > JWKS_MAX_BYTES:
                raise Unauthorized("JWKS too large")
            key_set = jwt.PyJWKSet.from_dict(orjson.loads(body))
        except (requests.RequestException, orjson.JSONDecodeError, jwt.PyJWKSetError) as exc:
            raise Unauthorized(f"JWKS could not be read: {type(exc).__name__}") from None
        return {k.key_id: k for k in key_set.keys if k.key_id}


class TokenVerifier:
    """Checks a bearer JWT against the trusted issuers, for one endpoint URL (the audience)."""

    def __init__(self, issuers: tuple[TrustedIssuer, ...], replay: ReplayCache, leeway: int,
                 jwks: JwksCache | None = None) -> None:
        self.issuers: Mapping[str, TrustedIssuer] = {i.iss: i for i in issuers}
        self.replay = replay
        self.leeway = leeway
        self.jwks = jwks or JwksCache()
        # key sets given in the settings (a file, or inline): read once, never fetched
        self.configured: Mapping[str, list[jwt.PyJWK]] = {
            i.iss: jwt.PyJWKSet.from_json(i.jwks).keys for i in issuers if i.jwks}

    def _key(self, issuer: TrustedIssuer, jku: Any, kid: str | None) -> jwt.PyJWK:
        """The configured key set is what a token is verified against; its `jku` is followed only when it is on the
        issuer's allowlist (a `jku` equal to the configured jwks_url names the configured set)."""
        if jku is not None and jku != issuer.jwks_url:
            if jku not in issuer.jku_allowlist:
                raise Unauthorized("jku is not on the issuer's allowlist")
            return self.jwks.key(jku, kid)
        keys = self.configured.get(issuer.iss)
        if keys is None:
            return self.jwks.key(issuer.jwks_url, kid)
        if kid is None:
            if len(keys) == 1:
                return keys[0]
            raise Unauthorized("JWT has no kid and the key set has several keys")
        for key in keys:
            if key.key_id == kid:
                return key
        raise Unauthorized("JWT kid is not in the issuer's key set")

    def verify(self, token: str, audience: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"malformed JWT: {type(exc).__name__}") from None
        issuer = self.issuers.get(str(unverified.get("iss")))
        if issuer is None:
            raise Unauthorized("untrusted iss")
        algorithm = header.get("alg")
        if algorithm not in issuer.algorithms:  # never none or HS*: the settings cannot list them
            raise Unauthorized(f"algorithm {algorithm!r} not accepted for this issuer")
        key = self._key(issuer, header.get("jku"), header.get("kid"))
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=[algorithm],
                audience=audience,
                issuer=issuer.iss,
                leeway=self.leeway,
                options={"require": list(REQUIRED_CLAIMS), "verify_iat": True},
            )
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"JWT rejected: {type(exc).__name__}") from None
        if claims["iat"] > time.time() + self.leeway:
            raise Unauthorized("JWT issued in the future")
        if issuer.tenants and claims.get("tenant") not in issuer.tenants:
            raise Unauthorized("tenant not allowed")
        ttl = int(claims["exp"] - time.time()) + self.leeway
        if not self.replay.first_use(f"{issuer.iss}|{claims['jti']}", ttl):
            raise Unauthorized("jti replayed")
        return claims
