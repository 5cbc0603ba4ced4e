"""The FHIR fallback: when prefetch is absent or failed, search the request's fhirServer -- allowlisted origins
only, concurrently over one pooled session, every call and the whole request bounded in time and size."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

import orjson
import requests
from requests.adapters import HTTPAdapter

from cds_service.fhir.wire import decode_resource
from cds_service.urls import BadUrl, Url, parse_url

log = logging.getLogger(__name__)


class FetchError(Exception):
    """One FHIR call failed; the message says how, without PHI or the token."""


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
    max_response_bytes: int = 20 * 1024 * 1024


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


class FhirClient:
    """Runs the searches of one hook call against its fhirServer, within the limits."""

    def __init__(self, allowlist: Allowlist, limits: FhirLimits, workers: int = 8) -> None:
        self.allowlist = allowlist
        self.limits = limits
        self.session = requests.Session()
        self.session.mount("http://", HTTPAdapter(pool_connections=4, pool_maxsize=workers, max_retries=0))
        self.session.mount("https://", HTTPAdapter(pool_connections=4, pool_maxsize=workers, max_retries=0))
        self.session.trust_env = False  # no proxies or .netrc credentials from the environment
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fhir-fallback")

    def fetch(self, base: Url, token: str | None, queries: Mapping[str, str]) -> dict[str, FetchResult]:
        """Every query (relative to `base`) concurrently; a key not answered within the budget has an error."""
        if not self.allowlist.allows(base):
            return dict.fromkeys(queries, FetchResult(error="fhirServer is not on this service's allowlist"))
        deadline = time.monotonic() + self.limits.budget_seconds
        futures: dict[str, Future[FetchResult]] = {
            key: self.executor.submit(self._search, base, token, query, deadline) for key, query in queries.items()
        }
        wait(futures.values(), timeout=max(0.0, deadline - time.monotonic()))
        results = {}
        for key, future in futures.items():
            if future.done():
                results[key] = future.result()
            else:
                future.cancel()
                results[key] = FetchResult(error="timed out")
        return results

    def _search(self, base: Url, token: str | None, query: str, deadline: float) -> FetchResult:
        url: Url | None = base.join(query)  # built from the service's own query, never joined from user input
        seen: set[Url] = set()
        resources: list[dict[str, Any]] = []
        try:
            for _ in range(self.limits.max_pages):
                assert url is not None
                seen.add(url)
                body = self._get(url, base, token, deadline)
                if body.get("resourceType") != "Bundle":
                    if "?" in query or body.get("resourceType") == "OperationOutcome":
                        raise FetchError(f"answered a {body.get('resourceType')!r}, not a Bundle")
                    return FetchResult((body,))  # a read: Patient/{id}
                entries = body.get("entry", [])
                if not isinstance(entries, list):
                    raise FetchError("Bundle.entry is not a list")
                resources.extend(e["resource"] for e in entries
                                 if isinstance(e, dict) and isinstance(e.get("resource"), dict)
                                 and e["resource"].get("resourceType") != "OperationOutcome")
                link = _next_link(body)
                if link is None:
                    return FetchResult(tuple(resources))
                try:
                    url = parse_url(link)
                except BadUrl as exc:
                    raise BadNextLink(f"a next link that is not a well-formed URL ({exc})") from None
                if url.origin != base.origin:
                    raise BadNextLink("a next link that leaves the fhirServer's origin")
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

    def _get(self, url: Url, base: Url, token: str | None, deadline: float) -> dict[str, Any]:
        remaining = deadline - time.monotonic()
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
            if response.status_code != 200:
                raise FetchError(f"answered HTTP {response.status_code}")
            chunks, size = [], 0
            for chunk in response.iter_content(chunk_size=65536):
                size += len(chunk)
                if size > self.limits.max_response_bytes:
                    raise FetchError("answer larger than the size limit")
                if time.monotonic() > deadline:
                    raise FetchError("timed out")
                chunks.append(chunk)
        try:
            body = decode_resource(b"".join(chunks))
        except orjson.JSONDecodeError:
            raise FetchError("answered malformed JSON") from None
        if not isinstance(body, dict):
            raise FetchError("answered JSON that is not a FHIR resource")
        return body


def _next_link(bundle: dict[str, Any]) -> str | None:
    links = bundle.get("link")
    for link in links if isinstance(links, list) else []:
        if isinstance(link, dict) and link.get("relation") == "next" and isinstance(link.get("url"), str):
            return str(link["url"])
    return None
