"""The private-network policy on real connections: after DNS, on every redirect, and on
the address actually connected to.

A "public" server is simulated on 127.0.0.2: the tests tell the policy that this one
address is public, so the first hop passes the way a real public host would, and what
is checked is where that host then sends the fetcher.
"""

from __future__ import annotations

import asyncio
import sqlite3
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from aggregator import fetch as fetch_module
from aggregator import netpolicy
from aggregator.cli import main
from aggregator.errors import FetchError
from aggregator.fetch import FetchLimits, fetch_feed, make_client
from aggregator.settings import HttpSettings, load_settings
from aggregator.types import FeedState, FetchResult
from tests.helpers.feeds import rss2
from tests.helpers.feedserver import FeedServer
from tests.helpers.hostile import redirect_to

PUBLIC_LOOKING = "127.0.0.2"
POLICY_ON = FetchLimits(total_timeout=5, allow_private_networks=False)
FEED = rss2([("g1", "Internal story", "from the intranet")])


@pytest.fixture
def public_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FeedServer]:
    """A server on 127.0.0.2 that the policy takes for a public host."""
    real = netpolicy.is_public

    def is_public(address: str) -> bool:
        return address == PUBLIC_LOOKING or real(address)

    monkeypatch.setattr(netpolicy, "is_public", is_public)
    monkeypatch.setattr(fetch_module, "is_public", is_public)
    server = FeedServer(host=PUBLIC_LOOKING)
    yield server
    server.close()


def fetch(url: str, limits: FetchLimits = POLICY_ON) -> FetchResult:
    async def go() -> FetchResult:
        async with make_client(limits) as client:
            return await fetch_feed(client, FeedState(1, "f", url), limits)

    return asyncio.run(go())


def test_the_public_looking_server_itself_is_fetched(public_server: FeedServer) -> None:
    assert fetch(public_server.set("/feed.xml", FEED)).status == 200


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]", "0.0.0.0"])
def test_redirect_from_a_public_host_to_loopback_is_refused(
    public_server: FeedServer, feed_server: FeedServer, host: str
) -> None:
    target = feed_server.set("/internal.xml", FEED).replace("127.0.0.1", host)
    public_server.set("/feed.xml", handler=redirect_to(target))
    with pytest.raises(FetchError, match="non-public address"):
        fetch(public_server.url("/feed.xml"))
    assert len(public_server.requests_for("/feed.xml")) == 1
    assert feed_server.requests_for("/internal.xml") == [], "the internal URL was requested"


def test_redirect_checked_at_every_hop(public_server: FeedServer, feed_server: FeedServer) -> None:
    internal = feed_server.set("/internal.xml", FEED)
    public_server.set("/a", handler=redirect_to(public_server.url("/b")))
    public_server.set("/b", handler=redirect_to(internal))
    with pytest.raises(FetchError, match=r"non-public address 127\.0\.0\.1"):
        fetch(public_server.url("/a"))
    assert len(public_server.requests_for("/b")) == 1
    assert feed_server.requests_for("/internal.xml") == []


def test_address_connected_to_is_checked_after_dns(
    feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: the name looked public when checked, the connection went to loopback."""

    async def fooled(host: str, port: int) -> None:
        return None

    monkeypatch.setattr(fetch_module, "check_host", fooled)
    url = feed_server.set("/feed.xml", FEED).replace("127.0.0.1", "localhost")
    with pytest.raises(FetchError, match="refused connection to non-public address"):
        fetch(url)


def test_policy_is_off_by_default_for_feeds_and_webhooks(
    feed_server: FeedServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert HttpSettings().allow_private_networks is False
    config = tmp_path / "config"
    config.mkdir()
    (config / "aggregator.toml").write_text(
        textwrap.dedent(
            f"""\
            [storage]
            url = "sqlite:///{tmp_path / "data" / "aggregator.db"}"
            [[channels]]
            name = "hook"
            type = "webhook"
            url = "http://127.0.0.1:9/hook"
            """
        )
    )
    url = feed_server.set("/feed.xml", FEED)
    (config / "feeds.toml").write_text(f'[[feeds]]\nname = "intranet"\nurl = "{url}"\n')
    (config / "watchlists.toml").write_text("")
    assert load_settings(config, {}).http.allow_private_networks is False
    assert main(["poll", "--config", str(config), "--deliver-timeout", "0"]) == 0
    assert "FAILED intranet: refused 127.0.0.1" in capsys.readouterr().out
    assert feed_server.requests == []
    with sqlite3.connect(tmp_path / "data" / "aggregator.db") as conn:
        (error,) = conn.execute("SELECT last_error FROM feeds").fetchone()
    assert "allow_private_networks" in error
