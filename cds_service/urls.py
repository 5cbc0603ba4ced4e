"""One parse of every URL the service checks and then fetches (fhirServer, paging links, key sets): what is checked
is exactly what is fetched, because the URL fetched is rebuilt from the checked parts."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}
# RFC 3986 host: a registered name of letters, digits, '-' and '.', or an IPv6 literal in brackets. Nothing else
# -- no userinfo, no percent-encoding, no Unicode (a full-width colon reads as a port to one parser, not another).
_HOST = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\.?")
_IPV6 = re.compile(r"\[[0-9a-f:.]{2,45}\]")
# FHIR R4 id: [A-Za-z0-9\-\.]{1,64} -- and never only dots, which a URL path reads as "this" or "the parent"
_FHIR_ID = re.compile(r"(?!\.+$)[A-Za-z0-9\-.]{1,64}")


class BadUrl(ValueError):
    """A URL refused before anything is fetched; the message names why, never the URL (it may carry PHI)."""


@dataclass(frozen=True)
class Url:
    """An http(s) URL reduced to what is fetched: scheme, host, port, path and query."""

    scheme: str
    host: str
    port: int
    path: str  # "" or beginning with "/"
    query: str = ""

    @property
    def origin(self) -> tuple[str, str, int]:
        return self.scheme, self.host, self.port

    def __str__(self) -> str:
        port = "" if DEFAULT_PORTS[self.scheme] == self.port else f":{self.port}"
        return f"{self.scheme}://{self.host}{port}{self.path}" + (f"?{self.query}" if self.query else "")

    def join(self, relative: str) -> Url:
        """This URL as a base, with a path and query of the service's own making appended (never user input)."""
        path, _, query = relative.partition("?")
        return Url(self.scheme, self.host, self.port, self.path.rstrip("/") + "/" + path.lstrip("/"), query)


def parse_url(text: str) -> Url:
    """An http(s) URL, or BadUrl: no whitespace, control characters, backslashes, userinfo or non-ASCII; a host of
    the RFC 3986 forms above; a port in range. Fragments are dropped."""
    if not isinstance(text, str) or not text:
        raise BadUrl("not a URL")
    if not text.isascii() or any(c <= " " or c in "\\\x7f" for c in text):
        raise BadUrl("a URL may not hold whitespace, control characters, backslashes or non-ASCII characters")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise BadUrl("not a well-formed URL") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise BadUrl("only http and https URLs are fetched")
    if "@" in parts.netloc:
        raise BadUrl("a URL may not carry user information")
    host = (parts.hostname or "").lower()
    if parts.netloc.startswith("[") or ":" in host:
        host = f"[{host}]"
        if not _IPV6.fullmatch(host):
            raise BadUrl("not a well-formed IPv6 host")
    elif not host or not _HOST.fullmatch(host):
        raise BadUrl("not a well-formed host name")
    if port == 0:
        raise BadUrl("port 0 is not a port")
    return Url(scheme, host, port or DEFAULT_PORTS[scheme], parts.path, parts.query)


def fhir_id(value: str) -> str:
    """A FHIR id, checked by its grammar (never only dots) and percent-encoded for a URL path; else BadUrl."""
    if not isinstance(value, str) or not _FHIR_ID.fullmatch(value):
        raise BadUrl("not a FHIR id: letters, digits, '-' and '.', at most 64, not only dots")
    return quote(value, safe="")
