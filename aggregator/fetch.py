"""HTTP fetching of feeds: the only place httpx is used for feeds.

Conditional GET with the stored validators, a user agent naming the project, connect and
read timeouts plus one total deadline, a cap on the decompressed body, a bounded number
of redirects, and the private-network policy checked on every hop. Every failure leaves
as a FetchError. This module must not parse, store or decide schedules.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from aggregator.errors import FetchError
from aggregator.netpolicy import AddressRefused, check_host, is_public
from aggregator.types import FeedState, FetchResult

ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, "
    "application/rdf+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)


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
        headers={"User-Agent": limits.user_agent, "Accept": ACCEPT},
        event_hooks=hooks,  # type: ignore[arg-type]
    )


def _conditional_headers(feed: FeedState) -> dict[str, str]:
    headers = {}
    if feed.etag:
        headers["If-None-Match"] = feed.etag
    if feed.last_modified:
        headers["If-Modified-Since"] = feed.last_modified
    return headers


async def _read_capped(response: httpx.Response, max_body: int) -> bytes:
    declared = response.headers.get("Content-Length", "")
    compressed = bool(response.headers.get("Content-Encoding"))
    if declared.isdigit() and not compressed and int(declared) > max_body:
        raise FetchError(f"body of {declared} bytes exceeds the {max_body}-byte limit")
    chunks, size = [], 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > max_body:
            raise FetchError(f"body exceeds the {max_body}-byte limit")
        chunks.append(chunk)
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
    if isinstance(exc, httpx.DecodingError):
        return "cannot decode the body (bad Content-Encoding)"
    return f"{exc.__class__.__name__}: {exc}" if str(exc) else exc.__class__.__name__


async def fetch_feed(
    client: httpx.AsyncClient, feed: FeedState, limits: FetchLimits
) -> FetchResult:
    """One conditional GET of `feed`, bounded by the total deadline in `limits`."""
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


def redact_url(url: str) -> str:
    """The URL without user info, for messages (credentials must never be logged)."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return parts._replace(netloc=netloc).geturl()
