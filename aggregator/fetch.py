"""HTTP fetching of feeds: the only place httpx is used for feeds.

Conditional GET with the stored validators, a user agent naming the project, connect and
read timeouts plus one total deadline, a cap on the decompressed body, a bounded number
of redirects, and the private-network policy checked on every hop (the request hook
resolves the host, the response hook checks the address actually connected to). Every
failure leaves as a FetchError.

Content-Encoding is undone here, not by httpx: httpx inflates a whole network chunk at
once, so 64 KB of `gzip, gzip` becomes gigabytes before any cap is checked. Here each
layer (gzip, deflate, at most MAX_ENCODINGS of them) yields at most 64 KiB at a time and
the cap counts decompressed bytes as they come.

Feed URLs may carry secrets (user:password@, `token=` parameters): `redact_url` gives
the URL fit to show or store, and no FetchError message holds any of the URL's secrets.

Must not: parse, store or decide schedules.
"""

from __future__ import annotations

import asyncio
import re
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import httpx

from aggregator.errors import FetchError
from aggregator.netpolicy import AddressRefused, check_host, is_public
from aggregator.types import FeedState, FetchResult

ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, "
    "application/rdf+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)
ACCEPT_ENCODING = "gzip, deflate"  # what _Inflater undoes
MAX_ENCODINGS = 3  # layers of Content-Encoding accepted ("gzip, gzip" is two)
_PIECE = 64 * 1024  # the most one decompression step may produce


@dataclass(frozen=True, slots=True)
class FetchLimits:
    total_timeout: float = 30.0
    connect_timeout: float = 10.0
    max_body: int = 15 * 1024 * 1024
    max_redirects: int = 5
    allow_private_networks: bool = False
    user_agent: str = "aggregator"
    max_connections: int = 64


async def _check_host(request: httpx.Request) -> None:
    """Refuse URLs whose host resolves to loopback, private or link-local addresses."""
    if request.url.scheme not in ("http", "https"):
        raise FetchError(f"refused non-HTTP URL scheme {request.url.scheme!r}")
    default_port = 443 if request.url.scheme == "https" else 80
    try:
        await check_host(request.url.host, request.url.port or default_port)
    except AddressRefused as exc:
        raise FetchError(str(exc)) from exc


async def _check_peer(response: httpx.Response) -> None:
    """Check the address actually connected to, which DNS may have changed meanwhile."""
    stream = response.extensions.get("network_stream")
    peer = stream.get_extra_info("server_addr") if stream is not None else None
    if peer and not is_public(str(peer[0])):
        await response.aclose()
        raise FetchError(f"refused connection to non-public address {peer[0]}")


def make_client(limits: FetchLimits) -> httpx.AsyncClient:
    """The one AsyncClient shared by all fetches of a poll."""
    hooks: Mapping[str, list[object]] = {}
    if not limits.allow_private_networks:
        hooks = {"request": [_check_host], "response": [_check_peer]}
    return httpx.AsyncClient(
        follow_redirects=True,
        max_redirects=limits.max_redirects,
        timeout=httpx.Timeout(limits.total_timeout, connect=limits.connect_timeout),
        limits=httpx.Limits(
            max_connections=limits.max_connections, max_keepalive_connections=limits.max_connections
        ),
        headers={
            "User-Agent": limits.user_agent,
            "Accept": ACCEPT,
            "Accept-Encoding": ACCEPT_ENCODING,
        },
        event_hooks=hooks,  # type: ignore[arg-type]
    )


def _conditional_headers(feed: FeedState) -> dict[str, str]:
    headers = {}
    if feed.etag:
        headers["If-None-Match"] = feed.etag
    if feed.last_modified:
        headers["If-Modified-Since"] = feed.last_modified
    return headers


class _Layer:
    """One Content-Encoding layer undone in steps of at most _PIECE bytes."""

    def __init__(self, coding: str) -> None:
        self.coding = coding
        gzip = coding in ("gzip", "x-gzip")
        self._inflate = zlib.decompressobj(zlib.MAX_WBITS | 16 if gzip else zlib.MAX_WBITS)
        self._started = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        while True:
            try:
                out = self._inflate.decompress(data, _PIECE)
            except zlib.error:
                if self.coding == "deflate" and not self._started:
                    # "deflate" is meant to be zlib-wrapped; many servers send it raw.
                    self._inflate = zlib.decompressobj(-zlib.MAX_WBITS)
                    self._started = True
                    continue
                raise FetchError(f"cannot decode the body (bad {self.coding} data)") from None
            self._started = True
            data = self._inflate.unconsumed_tail
            if out:
                yield out
            elif not data:
                return


class _Inflater:
    """Every Content-Encoding layer of a response, undone last-applied first."""

    def __init__(self, header: str) -> None:
        codings = [c.strip().lower() for c in header.split(",") if c.strip()]
        codings = [c for c in codings if c != "identity"]
        unknown = [c for c in codings if c not in ("gzip", "x-gzip", "deflate")]
        if unknown:
            raise FetchError(f"unsupported Content-Encoding {unknown[0][:40]!r}")
        if len(codings) > MAX_ENCODINGS:
            raise FetchError(f"too many Content-Encoding layers ({len(codings)})")
        self._layers = [_Layer(c) for c in reversed(codings)]

    def decode(self, raw: bytes) -> Iterable[bytes]:
        pieces: Iterable[bytes] = [raw]
        for layer in self._layers:
            pieces = _through(layer, pieces)
        return pieces


def _through(layer: _Layer, pieces: Iterable[bytes]) -> Iterator[bytes]:
    for piece in pieces:
        yield from layer.feed(piece)


async def _read_capped(response: httpx.Response, max_body: int) -> bytes:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_body:
        raise FetchError(f"body of {declared} bytes exceeds the {max_body}-byte limit")
    inflater = _Inflater(response.headers.get("Content-Encoding", ""))
    chunks, size, raw_size = [], 0, 0
    async for raw in response.aiter_raw():
        raw_size += len(raw)
        if raw_size > max_body:
            raise FetchError(f"body exceeds the {max_body}-byte limit")
        for piece in inflater.decode(raw):
            size += len(piece)
            if size > max_body:
                raise FetchError(f"body exceeds the {max_body}-byte limit (decompressed)")
            chunks.append(piece)
    return b"".join(chunks)


PERMANENT_REDIRECTS = frozenset({301, 308})


def _result(feed: FeedState, response: httpx.Response, body: bytes | None) -> FetchResult:
    hops = response.history
    return FetchResult(
        url=feed.fetch_url,
        final_url=str(response.url),
        status=response.status_code,
        body=body,
        etag=response.headers.get("ETag"),
        last_modified=response.headers.get("Last-Modified"),
        content_type=response.headers.get("Content-Type"),
        permanent_redirect=bool(hops) and all(h.status_code in PERMANENT_REDIRECTS for h in hops),
        cache_control=response.headers.get("Cache-Control"),
        expires=response.headers.get("Expires"),
    )


async def _exchange(client: httpx.AsyncClient, feed: FeedState, max_body: int) -> FetchResult:
    headers = _conditional_headers(feed)
    async with client.stream("GET", feed.fetch_url, headers=headers) as response:
        if response.status_code == 304:
            # A 304 has no body, but until the (empty) body is read the connection is
            # not back in the pool: closing the response would close it, and an
            # unchanged poll would open a connection per feed.
            await response.aread()
            return _result(feed, response, None)
        if response.status_code >= 400 or response.status_code < 200:
            reason = response.reason_phrase or "error"
            retry_after = response.headers.get("Retry-After")
            raise FetchError(
                f"HTTP {response.status_code} {reason}", response.status_code, retry_after
            )
        if response.status_code >= 300:
            raise FetchError(f"unfollowed redirect (HTTP {response.status_code})")
        return _result(feed, response, await _read_capped(response, max_body))


def _describe(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.TooManyRedirects):
        return "too many redirects"
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out ({exc.__class__.__name__})"
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect: {exc}" if str(exc) else "cannot connect"
    if isinstance(exc, httpx.UnsupportedProtocol):
        return f"refused a URL that is not http(s): {exc}"
    if isinstance(exc, httpx.DecodingError):
        return "cannot decode the body (bad Content-Encoding)"
    return f"{exc.__class__.__name__}: {exc}" if str(exc) else exc.__class__.__name__


async def fetch_feed(
    client: httpx.AsyncClient, feed: FeedState, limits: FetchLimits
) -> FetchResult:
    """One conditional GET of `feed`, bounded by the total deadline in `limits`.

    A FetchError's message never holds a secret of the feed's URL.
    """
    try:
        return await _fetch(client, feed, limits)
    except FetchError as exc:
        message = scrub(str(exc), feed.fetch_url)
        if message == str(exc):
            raise
        raise FetchError(message, exc.status, exc.retry_after) from None


async def _fetch(client: httpx.AsyncClient, feed: FeedState, limits: FetchLimits) -> FetchResult:
    try:
        async with asyncio.timeout(limits.total_timeout):
            return await _exchange(client, feed, limits.max_body)
    except TimeoutError as exc:
        raise FetchError(f"timed out after {limits.total_timeout:g}s") from exc
    except httpx.InvalidURL as exc:
        raise FetchError(f"invalid URL: {exc}") from exc
    except httpx.HTTPError as exc:
        raise FetchError(_describe(exc)) from exc
    except UnicodeError as exc:
        raise FetchError(f"invalid URL or header encoding: {exc}") from exc


# Query parameters whose value is taken for a secret (matched on the lower-cased name).
_SECRET_PARAM = re.compile(r"token|secret|passw|pwd|api[-_]?key|^key$|^auth|^sig|session")


def _secret_params(query: str) -> list[tuple[str, str]]:
    return [(name, value) for name, value in _params(query) if _SECRET_PARAM.search(name.lower())]


def _params(query: str) -> list[tuple[str, str]]:
    pairs = []
    for part in query.split("&"):
        name, _, value = part.partition("=")
        if name:
            pairs.append((name, value))
    return pairs


def _redact_param(part: str) -> str:
    name = part.partition("=")[0]
    return f"{name}=***" if _SECRET_PARAM.search(name.lower()) else part


def redact_url(url: str) -> str:
    """The URL fit to show, log or store: no user info, secret query values as `***`."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port
    except ValueError:
        return "<unparseable URL>"
    netloc = parts.netloc
    if parts.username is not None or parts.password is not None:
        if ":" in host:
            host = f"[{host}]"
        netloc = f"{host}:{port}" if port else host
    query = "&".join(_redact_param(part) for part in parts.query.split("&") if part)
    return parts._replace(netloc=netloc, query=query).geturl()


def url_secrets(url: str) -> list[str]:
    """The secret parts of a URL (user, password, secret query values), longest first."""
    try:
        parts = urlsplit(url)
        found = [parts.username or "", parts.password or ""]
    except ValueError:
        return []
    found += [value for _, value in _secret_params(parts.query)]
    forms = {form for text in found for form in (text, unquote(text)) if len(form) >= 3}
    return sorted(forms, key=len, reverse=True)


def scrub(text: str, url: str) -> str:
    """`text` with every secret of `url` replaced by `***`."""
    for secret in url_secrets(url):
        text = text.replace(secret, "***")
    return text
