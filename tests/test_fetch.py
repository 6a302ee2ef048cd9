"""fetch.py against a real loopback server: validators, limits, redirects, policy."""

from __future__ import annotations

import asyncio
import gzip
from http.server import BaseHTTPRequestHandler

import pytest

from aggregator.errors import FetchError
from aggregator.fetch import FetchLimits, fetch_feed, make_client, redact_url
from aggregator.types import FeedState, FetchResult
from tests.helpers.feedserver import FeedServer

LOOPBACK_OK = FetchLimits(total_timeout=5, allow_private_networks=True, user_agent="agg-test/1")


def fetch(url: str, limits: FetchLimits = LOOPBACK_OK, **state: str) -> FetchResult:
    async def go() -> FetchResult:
        async with make_client(limits) as client:
            return await fetch_feed(client, FeedState(1, "f", url, **state), limits)

    return asyncio.run(go())


def test_get_then_conditional_get_gives_304(feed_server: FeedServer) -> None:
    url = feed_server.set("/f.xml", "<rss/>")
    first = fetch(url)
    assert first.status == 200 and first.body == b"<rss/>" and first.etag
    second = fetch(url, etag=first.etag, last_modified=first.last_modified or "")
    assert second.not_modified and second.body is None
    sent = feed_server.requests_for("/f.xml")[1].headers
    assert sent["If-None-Match"] == first.etag
    assert sent["If-Modified-Since"] == first.last_modified
    assert sent["User-Agent"] == "agg-test/1"


@pytest.mark.parametrize(
    ("route", "message"),
    [
        ({"status": 500}, "HTTP 500"),
        ({"status": 404}, "HTTP 404"),
        ({"status": 410}, "HTTP 410"),
        ({"delay": 3.0}, "timed out"),
    ],
)
def test_failures_become_fetch_errors(feed_server: FeedServer, route: dict, message: str) -> None:
    url = feed_server.set("/x", "<rss/>", **route)
    limits = FetchLimits(total_timeout=1, allow_private_networks=True)
    with pytest.raises(FetchError, match=message):
        fetch(url, limits)


def test_refused_connection_is_a_fetch_error() -> None:
    with pytest.raises(FetchError, match="cannot connect"):
        fetch("http://127.0.0.1:9/feed")


def test_body_over_the_cap_is_refused(feed_server: FeedServer) -> None:
    url = feed_server.set("/big", b"x" * 5000)
    with pytest.raises(FetchError, match="limit"):
        fetch(url, FetchLimits(max_body=4096, allow_private_networks=True))


def test_cap_applies_after_decompression(feed_server: FeedServer) -> None:
    bomb = gzip.compress(b"\0" * 2_000_000)
    url = feed_server.set("/bomb", bomb, headers={"Content-Encoding": "gzip"})
    with pytest.raises(FetchError, match="limit"):
        fetch(url, FetchLimits(max_body=100_000, allow_private_networks=True))


def _redirect_to(target: str):  # type: ignore[no-untyped-def]
    def handler(h: BaseHTTPRequestHandler) -> None:
        h.send_response(302)
        h.send_header("Location", target)
        h.send_header("Content-Length", "0")
        h.end_headers()

    return handler


def test_redirects_followed_up_to_five(feed_server: FeedServer) -> None:
    feed_server.set("/final", "<rss/>")
    for i in range(5):
        nxt = "/final" if i == 4 else f"/r{i + 1}"
        feed_server.set(f"/r{i}", handler=_redirect_to(nxt))
    result = fetch(feed_server.url("/r0"))
    assert result.final_url.endswith("/final") and result.body == b"<rss/>"
    feed_server.set("/loop", handler=_redirect_to("/loop"))
    with pytest.raises(FetchError, match="too many redirects"):
        fetch(feed_server.url("/loop"))


def test_private_addresses_refused_by_default(feed_server: FeedServer) -> None:
    url = feed_server.set("/f.xml", "<rss/>")
    with pytest.raises(FetchError, match="non-public"):
        fetch(url, FetchLimits(total_timeout=5))
    assert feed_server.requests_for("/f.xml") == [], "the request must not be sent at all"


def test_redirect_to_non_http_scheme_refused(feed_server: FeedServer) -> None:
    feed_server.set("/r", handler=_redirect_to("file:///etc/passwd"))
    with pytest.raises(FetchError):
        fetch(feed_server.url("/r"))


def test_redact_url_hides_credentials() -> None:
    assert redact_url("https://user:secret@h.example:8443/f?a=1") == "https://h.example:8443/f?a=1"
    assert redact_url("https://h.example/f") == "https://h.example/f"
