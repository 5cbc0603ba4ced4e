"""The FHIR fallback: when prefetch is absent or failed, search the request's fhirServer -- allowlisted origins
only, concurrently over one pooled session, every call and the whole request bounded in time and size."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

import orjson
import requests
from requests.adapters import HTTPAdapter

from cds_service.fhir.bundle import next_link, search_results, withheld
from cds_service.fhir.wire import decode_resource
from cds_service.reading import read_chunks
from cds_service.urls import BadUrl, Url, parse_url

log = logging.getLogger(__name__)


class FetchError(Exception):
    """One FHIR call failed; the message says how, without PHI or the token."""


class Refused(FetchError):
    """The server answered 400: it refused the request as it was asked."""


class BadNextLink(FetchError):
    """A paging link that is malformed or leaves the fhirServer's origin: the search fails (412 if required)."""


@dataclass(frozen=True)
class FetchResult:
    """What one prefetch key's search returned: resources, or the reason it could not be read."""

    resources: tuple[dict[str, Any], ...] = ()
    error: str | None = None  # None when read
    partial: bool = False  # more pages existed than the bound allowed


@dataclass(frozen=True)
class FhirLimits:
    connect_timeout: float = 1.0
    read_timeout: float = 2.5
    budget_seconds: float = 3.0  # the whole fallback of one hook call
    max_pages: int = 5
    max_response_bytes: int = 20 * 1024 * 1024  # every answer of one hook call's fallback together


CUT_GRACE_SECONDS = 0.5  # after a cut, how long the call waits for its search threads to end


class _CallBudget:
    """One hook call's fallback: its deadline, the bytes it may still read, and the answers being read right now --
    cut when the deadline passes, so no search thread outlives its call (a server sending a byte a second would
    otherwise keep a thread for as long as it likes)."""

    def __init__(self, deadline: float, max_bytes: int) -> None:
        self.deadline = deadline
        self.bytes_left = max_bytes
        self._reading: set[Any] = set()
        self._lock = threading.Lock()
        self._cut = False

    def take(self, size: int) -> None:
        with self._lock:
            self.bytes_left -= size
            if self.bytes_left < 0:
                raise FetchError("answers larger than the size limit")
        if time.monotonic() > self.deadline:
            raise FetchError("timed out")

    def reading(self, response: Any) -> None:
        with self._lock:
            if self._cut:
                raise FetchError("timed out")
            self._reading.add(response)

    def done(self, response: Any) -> None:
        with self._lock:
            self._reading.discard(response)

    def cut(self) -> None:
        """Shut the sockets of every answer still being read: the blocked reads end at once."""
        with self._lock:
            self._cut = True
            reading, self._reading = list(self._reading), set()
        for response in reading:
            sock = _socket_of(response)
            if sock is not None:
                with contextlib.suppress(OSError):  # already closed
                    sock.shutdown(socket.SHUT_RDWR)


CONVENIENCES = frozenset({"_sort", "_include"})  # search parameters that order an answer or add to it, never filter it


def without_conveniences(query: str) -> str:
    """A search of the service's own, less the parameters that only order its answer or add resources to it."""
    path, _, parameters = query.partition("?")
    kept = [p for p in parameters.split("&") if p and p.partition("=")[0] not in CONVENIENCES]
    return f"{path}?{'&'.join(kept)}" if kept else path


def _socket_of(response: Any) -> socket.socket | None:
    """The socket an answer is read from: its connection's, or -- when the server closes after the answer (HTTP/1.0)
    and http.client has handed the socket to the response -- the one under the response's file."""
    sock = getattr(getattr(response.raw, "connection", None), "sock", None)
    if sock is None:
        file = getattr(getattr(response.raw, "_fp", None), "fp", None)
        sock = getattr(getattr(file, "raw", None), "_sock", None)
    return sock if isinstance(sock, socket.socket) else None


class Allowlist:
    """fhirServer origins the service may contact: 'https://fhir.example.org', 'http://127.0.0.1:8090', or a
    '*' port ('http://127.0.0.1:*'). Nothing else is ever fetched (SSRF). Entries and URLs are read by the same
    parse (cds_service/urls.py) as the URL that is then fetched."""

    def __init__(self, entries: tuple[str, ...]) -> None:
        self.entries: list[tuple[str, str, int | None]] = []
        for entry in entries:
            wildcard = entry.endswith(":*")
            try:
                url = parse_url(entry[:-2] if wildcard else entry)
            except BadUrl as exc:
                raise ValueError(f"not an origin (scheme://host[:port]): {entry!r} ({exc})") from None
            if url.path not in ("", "/") or url.query:
                raise ValueError(f"not an origin (scheme://host[:port]): {entry!r}")
            self.entries.append((url.scheme, url.host, None if wildcard else url.port))

    def allows(self, url: Url) -> bool:
        return any(url.scheme == s and url.host == h and (p is None or url.port == p) for s, h, p in self.entries)


def _on_origin(link: str, base: Url) -> Url:
    """A paging link as the URL it names, parsed as the fhirServer is; BadNextLink if it is malformed or leaves the
    fhirServer's exact origin."""
    try:
        url = parse_url(link)
    except BadUrl as exc:
        raise BadNextLink(f"a next link that is not a well-formed URL ({exc})") from None
    if url.origin != base.origin:
        raise BadNextLink("a next link that leaves the fhirServer's origin")
    return url


class FhirClient:
    """Runs the searches of one hook call against its fhirServer, within the limits."""

    def __init__(self, allowlist: Allowlist, limits: FhirLimits, workers: int = 16) -> None:
        self.allowlist = allowlist
        self.limits = limits
        self.session = requests.Session()
        self.session.mount("http://", HTTPAdapter(pool_connections=4, pool_maxsize=workers, max_retries=0))
        self.session.mount("https://", HTTPAdapter(pool_connections=4, pool_maxsize=workers, max_retries=0))
        self.session.trust_env = False  # no proxies or .netrc credentials from the environment
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fhir-fallback")

    def fetch(self, base: Url, token: str | None, queries: Mapping[str, str],
              continued: Mapping[str, str] | None = None) -> dict[str, FetchResult]:
        """Every query (relative to `base`) concurrently -- and every search `continued` from the next link of a
        page the client sent; a key not answered within the budget has an error."""
        searches = {**{key: (query, False) for key, query in queries.items()},
                    **{key: (link, True) for key, link in (continued or {}).items()}}
        if not self.allowlist.allows(base):
            return dict.fromkeys(searches, FetchResult(error="fhirServer is not on this service's allowlist"))
        budget = _CallBudget(time.monotonic() + self.limits.budget_seconds, self.limits.max_response_bytes)
        futures: dict[str, Future[FetchResult]] = {
            key: self.executor.submit(self._search, base, token, query, budget, is_link)
            for key, (query, is_link) in searches.items()
        }
        _, pending = wait(futures.values(), timeout=max(0.0, budget.deadline - time.monotonic()))
        if pending:
            budget.cut()  # the deadline covers the whole read: what is still being read is cut off
            for future in pending:
                future.cancel()
            wait(pending, timeout=CUT_GRACE_SECONDS)
        results = {}
        for key, future in futures.items():
            done_in_time = future.done() and not future.cancelled() and future not in pending
            results[key] = future.result() if done_in_time else FetchResult(error="timed out")
        return results

    def _search(self, base: Url, token: str | None, query: str, budget: _CallBudget,
                is_link: bool = False) -> FetchResult:
        """A search and its next pages; `is_link`: `query` is a next link a client sent, not the service's own."""
        seen: set[Url] = set()
        resources: list[dict[str, Any]] = []
        failed_in_part = False  # an OperationOutcome of a page says the search failed in part
        try:
            url, body = self._first_page(base, token, query, budget, is_link)
            for page in range(self.limits.max_pages):
                seen.add(url)
                if page:
                    body = self._get(url, base, token, budget)
                if body.get("resourceType") != "Bundle":
                    if is_link or "?" in query or body.get("resourceType") == "OperationOutcome":
                        raise FetchError(f"answered a {body.get('resourceType')!r}, not a Bundle")
                    return FetchResult((body,))  # a read: Patient/{id}
                entries = body.get("entry", [])
                if not isinstance(entries, list):
                    raise FetchError("Bundle.entry is not a list")
                found, failed = search_results(entries)
                resources.extend(found)
                failed_in_part = failed_in_part or failed
                link = next_link(body)
                if link is None:  # (a search continued from a client's page has its first page elsewhere)
                    held_back = not is_link and withheld(body, len(resources))
                    return FetchResult(tuple(resources), partial=failed_in_part or held_back)
                url = _on_origin(link, base)
                if url in seen:
                    return FetchResult(tuple(resources), partial=True)  # a paging loop: stop there
            return FetchResult(tuple(resources), partial=True)
        except BadNextLink as exc:
            log.warning("FHIR fallback search refused: %s", exc)
            return FetchResult(error=str(exc))  # nothing is used from a server whose paging points elsewhere
        except (FetchError, requests.RequestException) as exc:
            reason = str(exc) if isinstance(exc, FetchError) else type(exc).__name__
            log.warning("FHIR fallback search failed: %s", reason)  # no URL: it can carry PHI
            return FetchResult(tuple(resources), error=reason) if not resources else FetchResult(
                tuple(resources), partial=True)

    def _first_page(self, base: Url, token: str | None, query: str, budget: _CallBudget,
                    is_link: bool) -> tuple[Url, dict[str, Any]]:
        """Where a search starts, and its first page. The service's own query is joined to the base, and asked once
        more without the parameters that only order the answer or add to it when the server refuses it (HAPI's
        default for a _sort it does not support); a link from anywhere else is parsed and checked."""
        url = _on_origin(query, base) if is_link else base.join(query)
        try:
            return url, self._get(url, base, token, budget)
        except Refused:
            plain = without_conveniences(query)
            if is_link or plain == query:
                raise
            url = base.join(plain)
            return url, self._get(url, base, token, budget)

    def _get(self, url: Url, base: Url, token: str | None, budget: _CallBudget) -> dict[str, Any]:
        remaining = budget.deadline - time.monotonic()
        if remaining <= 0:
            raise FetchError("timed out")
        if url.origin != base.origin:  # the token goes only to the exact origin it came with
            raise FetchError("a URL outside the fhirServer's origin")
        headers = {"Accept": "application/fhir+json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        timeout = (min(self.limits.connect_timeout, remaining), min(self.limits.read_timeout, remaining))
        with self.session.get(str(url), headers=headers, timeout=timeout, stream=True,
                              allow_redirects=False) as response:
            budget.reading(response)
            try:
                if response.status_code != 200:
                    raise (Refused if response.status_code == 400 else FetchError)(
                        f"answered HTTP {response.status_code}")
                chunks = []
                for chunk in read_chunks(response):
                    budget.take(len(chunk))  # the call's bytes and deadline, whatever the pace of the server
                    chunks.append(chunk)
            finally:
                budget.done(response)
        try:
            body = decode_resource(b"".join(chunks))
        except orjson.JSONDecodeError:
            raise FetchError("answered malformed JSON") from None
        if not isinstance(body, dict):
            raise FetchError("answered JSON that is not a FHIR resource")
        return body


