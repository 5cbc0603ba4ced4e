"""CDS Hooks 2.0 security: the CDS client's JWT -- signature by the issuer's JWKS, iss, aud, exp/iat/nbf, jti,
tenant -- verified with PyJWT. Any failure is the same bare 401; the reason goes to the log, never the token."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import jwt
import orjson
import requests

from cds_service.reading import read_within
from cds_service.security.replay import ReplayCache
from cds_service.settings import TrustedIssuer
from cds_service.urls import BadUrl, parse_url

log = logging.getLogger(__name__)

REQUIRED_CLAIMS = ("iss", "aud", "exp", "iat", "jti")
JWKS_MAX_BYTES = 1024 * 1024
# A jti is remembered until its token expires (CDS Hooks 2.0: never reused). No replay store holds a time after
# 9999-12-31T23:59:59Z, so a later `exp` is refused: its jti could not be remembered for as long as it is valid.
LATEST_EXP = 253402300799


class Unauthorized(Exception):
    """The call is not from a trusted CDS client; the message is for the log only."""


class PublishedKey(NamedTuple):
    """A key of an issuer's set, and the algorithm it was published for (None: any its issuer allows)."""

    key: jwt.PyJWK
    alg: str | None


def read_key_set(data: Any) -> dict[str | None, PublishedKey]:
    """A JWK Set's usable keys by `kid` (an unusable key is skipped, as PyJWKSet does); Unauthorized if none is."""
    entries = data.get("keys") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise Unauthorized("JWKS is not a JWK Set")
    keys: dict[str | None, PublishedKey] = {}
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
            continue
        try:
            keys[entry.get("kid")] = PublishedKey(jwt.PyJWK(entry), entry.get("alg"))
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError):
            continue
    if not keys:
        raise Unauthorized("JWKS has no usable signing key")
    return keys


def _pick(keys: Mapping[str | None, PublishedKey], kid: str | None) -> PublishedKey:
    if kid is None:
        if len(keys) == 1:
            return next(iter(keys.values()))
        raise Unauthorized("JWT has no kid and the key set has several keys")
    if kid not in keys:
        raise Unauthorized("JWT kid is not in the issuer's key set")
    return keys[kid]


@dataclass
class _KeySet:
    keys: dict[str | None, PublishedKey]
    fetched_at: float  # when this set was last fetched successfully
    tried_at: float  # when a fetch was last tried, successful or not


class JwksCache:
    """Key sets by URL -- only URLs the settings name -- cached for `lifespan`, and fetched again on an unknown `kid`
    (at most once per `cooldown`, so a stream of bogus kids cannot hammer the issuer). When the issuer's key server
    is down, the last good set is used for up to `keep_last_good` (24 h), a failed fetch is remembered for
    `cooldown`, and no call waits on a fetch that has just failed."""

    def __init__(self, lifespan: float = 300.0, cooldown: float = 30.0, timeout: float = 3.0,
                 keep_last_good: float = 24 * 3600.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.lifespan, self.cooldown, self.timeout, self.keep_last_good = lifespan, cooldown, timeout, keep_last_good
        self.clock = clock
        self._sets: dict[str, _KeySet] = {}
        self._failed: dict[str, float] = {}  # url -> when a fetch with no last good set failed
        self._lock = threading.Lock()
        self._session = requests.Session()
        self._session.trust_env = False

    def key(self, url: str, kid: str | None) -> PublishedKey:
        with self._lock:
            cached = self._sets.get(url)
            now = self.clock()
            if cached is None:
                if now - self._failed.get(url, -self.cooldown) < self.cooldown:
                    raise Unauthorized("JWKS could not be fetched a moment ago; not tried again yet")
                try:
                    cached = self._sets[url] = _KeySet(self._fetch(url), now, now)
                except Unauthorized:
                    self._failed[url] = now
                    raise
            else:
                unknown = kid is None or kid not in cached.keys
                due = now - cached.fetched_at > self.lifespan or unknown
                if due and now - cached.tried_at > self.cooldown:
                    cached.tried_at = now
                    try:
                        cached = self._sets[url] = _KeySet(self._fetch(url), now, now)
                    except Unauthorized as exc:
                        log.warning("JWKS refresh failed (%s); the last good key set is used", exc)
                if now - cached.fetched_at > self.keep_last_good:
                    raise Unauthorized("the last good JWKS is older than it may be kept")
        return _pick(cached.keys, kid)

    def _fetch(self, url: str) -> dict[str | None, PublishedKey]:
        try:
            target = str(parse_url(url))  # the URL checked in the settings, rebuilt from its checked parts
        except BadUrl:
            raise Unauthorized("JWKS URL is not well-formed") from None
        until = time.monotonic() + self.timeout  # the whole fetch: calls wait on it (the lock), so it is bounded
        try:
            with self._session.get(target, timeout=self.timeout, allow_redirects=False, stream=True) as response:
                if response.status_code != 200:
                    raise Unauthorized(f"JWKS answered HTTP {response.status_code}")
                data = orjson.loads(read_within(response, JWKS_MAX_BYTES, until))
        except (requests.RequestException, ValueError) as exc:  # (TooSlow, TooLarge, JSONDecodeError)
            raise Unauthorized(f"JWKS could not be read: {type(exc).__name__}") from None
        return read_key_set(data)


class TokenVerifier:
    """Checks a bearer JWT against the trusted issuers, for one endpoint URL (the audience)."""

    def __init__(self, issuers: tuple[TrustedIssuer, ...], replay: ReplayCache, leeway: int,
                 jwks: JwksCache | None = None) -> None:
        self.issuers: Mapping[str, TrustedIssuer] = {i.iss: i for i in issuers}
        self.replay = replay
        self.leeway = leeway
        self.jwks = jwks or JwksCache()
        # key sets given in the settings (a file, or inline): read once, never fetched
        self.configured: Mapping[str, dict[str | None, PublishedKey]] = {
            i.iss: read_key_set(orjson.loads(i.jwks)) for i in issuers if i.jwks}

    def _key(self, issuer: TrustedIssuer, jku: Any, kid: str | None) -> PublishedKey:
        """The configured key set is what a token is verified against; its `jku` is followed only when it is on the
        issuer's allowlist (a `jku` equal to the configured jwks_url names the configured set)."""
        if jku is not None and jku != issuer.jwks_url:
            if jku not in issuer.jku_allowlist:
                raise Unauthorized("jku is not on the issuer's allowlist")
            return self.jwks.key(jku, kid)
        keys = self.configured.get(issuer.iss)
        if keys is None:
            return self.jwks.key(issuer.jwks_url, kid)
        return _pick(keys, kid)

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
        for claim in ("exp", "iat", "nbf"):  # a time that is not a number is no time: refused, never a 500
            value = unverified.get(claim)
            if claim in unverified and (isinstance(value, bool) or not isinstance(value, int | float)):
                raise Unauthorized(f"JWT {claim} is not a number")
        published = self._key(issuer, header.get("jku"), header.get("kid"))
        if published.alg is not None and published.alg != algorithm:
            raise Unauthorized("the key was published for another algorithm")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=published.key.key,  # the key itself: a key published without `alg` serves any allowed one
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
        if claims["exp"] > LATEST_EXP:
            raise Unauthorized("JWT exp is later than its jti can be remembered")
        if issuer.tenants and claims.get("tenant") not in issuer.tenants:
            raise Unauthorized("tenant not allowed")
        ttl = int(claims["exp"] - time.time()) + self.leeway
        # kept as a digest: one length and alphabet for every store, whatever jti a client signs (any length, even a
        # lone surrogate escaped in its JSON)
        seen = hashlib.sha256(f"{issuer.iss}|{claims['jti']}".encode("utf-8", "surrogatepass")).hexdigest()
        if not self.replay.first_use(seen, ttl):
            raise Unauthorized("jti replayed")
        return claims
