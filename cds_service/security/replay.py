"""JWT ids already seen (CDS Hooks 2.0: `jti` is never reused): by default in the feedback store's database, shared
by every worker and every replica that uses it; or in Redis; or, for one process only, in memory."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol

import redis
from sqlalchemy.exc import SQLAlchemyError

from cds_service.errors import StoreUnavailable
from cds_service.feedback.store import FeedbackStore

log = logging.getLogger(__name__)


class ReplayCache(Protocol):
    def first_use(self, key: str, ttl_seconds: int) -> bool:
        """True the first time `key` is seen within `ttl_seconds`; False for a replay. StoreUnavailable (503) when
        the store cannot say: a token is never let through unchecked, and the client may send the call again."""
        ...


def _unavailable(store: str, error: Exception) -> StoreUnavailable:
    log.error("the JWT ids already seen could not be read from %s (%s): the call is refused with 503", store,
              type(error).__name__)
    return StoreUnavailable("the token could not be checked against the ones already used; send the call again")


class InProcessReplayCache:
    """One process's memory: enough for one worker; use Redis when several workers or replicas serve."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()
        self._max_entries = max_entries

    def first_use(self, key: str, ttl_seconds: int) -> bool:
        now = time.monotonic()
        with self._lock:
            if len(self._seen) >= self._max_entries:
                self._seen = {k: t for k, t in self._seen.items() if t > now}
            expires = self._seen.get(key)
            if expires is not None and expires > now:
                return False
            self._seen[key] = now + ttl_seconds
            return True


class RedisReplayCache:
    """SET key NX EX: atomic across every worker and replica that shares the Redis server."""

    PREFIX = "neutropenia-cds:jti:"

    def __init__(self, url: str) -> None:
        self._redis = redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)

    def first_use(self, key: str, ttl_seconds: int) -> bool:
        try:
            return bool(self._redis.set(self.PREFIX + key, b"1", nx=True, ex=max(1, ttl_seconds)))
        except redis.RedisError as error:  # (down, unreachable, timed out)
            raise _unavailable("Redis", error) from None


class DatabaseReplayCache:
    """The feedback store's database (SQLite file on one machine, PostgreSQL for replicas): an atomic
    insert-if-absent with expiry. Expired ids are let go now and then."""

    FORGET_EVERY = 1000  # calls

    def __init__(self, store: FeedbackStore) -> None:
        self.store = store
        self._calls = 0

    def first_use(self, key: str, ttl_seconds: int) -> bool:
        now = datetime.now(UTC)
        self._calls += 1
        try:
            if self._calls % self.FORGET_EVERY == 0:
                self.store.forget_expired_jwt_ids(now)
            return self.store.first_use_of_jwt_id(key, now + timedelta(seconds=max(1, ttl_seconds)), now)
        except SQLAlchemyError as error:  # (the database down, locked past its timeout)
            raise _unavailable("the database", error) from None


MEMORY = "memory"


def replay_cache(url: str, store: FeedbackStore) -> ReplayCache:
    """"" (the default): the store's database; "memory": this process only; redis://...: Redis."""
    if url == MEMORY:
        return InProcessReplayCache()
    return RedisReplayCache(url) if url else DatabaseReplayCache(store)
