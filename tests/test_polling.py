"""The polling engine against a loopback server: status codes, redirects, hints, limits."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from aggregator.cli import main
from aggregator.pipeline import Poller
from aggregator.settings import load_settings
from aggregator.storage.db import Database
from aggregator.types import PollSummary
from tests.conftest import ConfigMaker
from tests.helpers.feeds import atom, rss2
from tests.helpers.feedserver import FeedServer

ITEMS = [("a", "First story", "<p>one</p>"), ("b", "Second story", "<p>two</p>")]
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _poller(config: Path, clock: Clock) -> Poller:
    settings = load_settings(config, os.environ)
    db = Database(settings.storage.url)
    db.migrate()
    poller = Poller(settings, db, clock=clock, workers=0)
    poller.reconcile()
    return poller


@pytest.fixture
def run(clock: Clock) -> Iterator[object]:
    pollers: list[Poller] = []

    def poll(config: Path) -> PollSummary:
        poller = _poller(config, clock)
        pollers.append(poller)
        return asyncio.run(poller.poll(poller.active()))

    yield poll
    for poller in pollers:
        poller.close()
        poller.db.dispose()


def feed_row(tmp_path: Path, name: str) -> dict[str, object]:
    with sqlite3.connect(tmp_path / "data" / "aggregator.db") as conn:
        conn.row_factory = sqlite3.Row
        row = conn.execute("SELECT * FROM feeds WHERE name = ?", (name,)).fetchone()
    return dict(row)


def next_poll(tmp_path: Path, name: str) -> timedelta:
    value = str(feed_row(tmp_path, name)["next_poll_at"])
    return datetime.fromisoformat(value).replace(tzinfo=UTC) - NOW


def _redirect(status: int, target: str):  # type: ignore[no-untyped-def]
    def handler(h: BaseHTTPRequestHandler) -> None:
        h.send_response(status)
        h.send_header("Location", target)
        h.send_header("Content-Length", "0")
        h.end_headers()

    return handler


@pytest.mark.parametrize(
    ("headers", "status", "at_least"),
    [
        ({"Retry-After": "3600"}, 429, timedelta(hours=1)),
        ({"Retry-After": "Fri, 20 Nov 2026 15:00:00 GMT"}, 503, timedelta(hours=3)),
        ({}, 503, timedelta(minutes=15)),
    ],
)
def test_retry_after_on_429_and_503_sets_the_next_poll(
    headers: dict[str, str],
    status: int,
    at_least: timedelta,
    feed_server: FeedServer,
    make_config: ConfigMaker,
    tmp_path: Path,
    run,  # type: ignore[no-untyped-def]
) -> None:
    url = feed_server.set("/f", "busy", status=status, headers=headers)
    summary = run(make_config([("f", url)]))
    assert summary.failures[0].error.startswith(f"HTTP {status}")
    row = feed_row(tmp_path, "f")
    assert row["last_status"] == status and row["consecutive_errors"] == 1
    assert at_least <= next_poll(tmp_path, "f") <= at_least * 1.11


@pytest.mark.parametrize(("status", "remembered"), [(301, True), (308, True), (302, False)])
def test_permanent_redirects_are_remembered(
    status: int,
    remembered: bool,
    feed_server: FeedServer,
    make_config: ConfigMaker,
    tmp_path: Path,
    run,
    capsys: pytest.CaptureFixture[str],  # type: ignore[no-untyped-def]
) -> None:
    new = feed_server.set("/new.xml", rss2(ITEMS))
    feed_server.set("/old.xml", handler=_redirect(status, new))
    config = make_config([("f", feed_server.url("/old.xml"))])
    assert run(config).new_entries == 2
    assert (feed_row(tmp_path, "f")["moved_to"] == new) is remembered
    run(config)
    assert len(feed_server.requests_for("/old.xml")) == (1 if remembered else 2)
    assert main(["feeds", "--config", str(config)]) == 0
    table = capsys.readouterr().out
    assert (f"moved to {new}" in table) is remembered


def test_gone_feed_stops_being_polled_and_shows_as_gone(
    feed_server: FeedServer,
    make_config: ConfigMaker,
    tmp_path: Path,
    run,  # type: ignore[no-untyped-def]
    capsys: pytest.CaptureFixture[str],
) -> None:
    good = feed_server.set("/good.xml", rss2(ITEMS))
    config = make_config([("gone", feed_server.set("/gone", "bye", status=410)), ("good", good)])
    run(config)
    run(config)
    assert len(feed_server.requests_for("/gone")) == 1
    assert len(feed_server.requests_for("/good.xml")) == 2
    assert main(["feeds", "--config", str(config)]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("gone"))
    assert "gone 410" in line


def test_redirect_loop_is_a_recorded_error(
    feed_server: FeedServer,
    make_config: ConfigMaker,
    tmp_path: Path,
    run,  # type: ignore[no-untyped-def]
) -> None:
    feed_server.set("/loop", handler=_redirect(302, "/loop"))
    summary = run(make_config([("loop", feed_server.url("/loop"))]))
    assert summary.failures[0].error == "too many redirects"
    assert feed_row(tmp_path, "loop")["last_error"] == "too many redirects"


def test_server_hints_push_the_next_poll_later(
    feed_server: FeedServer,
    make_config: ConfigMaker,
    tmp_path: Path,
    run,  # type: ignore[no-untyped-def]
) -> None:
    url = feed_server.set("/f.xml", rss2(ITEMS), headers={"Cache-Control": "max-age=7200"})
    config = make_config()
    (config / "feeds.toml").write_text(f'[[feeds]]\nname = "f"\nurl = "{url}"\ninterval = "10m"\n')
    run(config)
    assert timedelta(hours=2) <= next_poll(tmp_path, "f") <= timedelta(hours=2.2)


def test_quiet_feed_is_polled_less_often_than_the_default(
    feed_server: FeedServer,
    make_config: ConfigMaker,
    tmp_path: Path,
    run,  # type: ignore[no-untyped-def]
) -> None:
    # Its entries are from early November; "now" is the 20th: nothing new for a week.
    run(make_config([("f", feed_server.set("/f.xml", rss2(ITEMS)))]))
    assert timedelta(hours=24) <= next_poll(tmp_path, "f") <= timedelta(hours=24.3)


def test_failing_feed_is_flagged_after_the_configured_time(
    feed_server: FeedServer,
    make_config: ConfigMaker,
    clock: Clock,
    run,  # type: ignore[no-untyped-def]
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = make_config(
        [("bad", feed_server.set("/bad", "x", status=500))],
        extra='[polling]\nflag_failing_after = "1h"\n',
    )
    run(config)
    clock.now = NOW + timedelta(hours=2)
    run(config)
    # `aggregator feeds` reads the real clock: the streak began in the past, so it is flagged.
    assert main(["feeds", "--config", str(config)]) == 0
    assert "FAILING 500" in capsys.readouterr().out


def test_per_host_limit_is_never_exceeded(
    feed_server: FeedServer,
    make_config: ConfigMaker,
    run,  # type: ignore[no-untyped-def]
) -> None:
    feeds = [(f"f{i}", feed_server.set(f"/f{i}.xml", rss2(ITEMS), delay=0.2)) for i in range(12)]
    config = make_config(feeds, extra="[polling]\nconcurrency = 50\nper_host_concurrency = 3\n")
    summary = run(config)
    assert summary.count("fetched") == 12
    assert feed_server.max_in_flight == 3


def test_an_unchanged_poll_reuses_its_connections(
    feed_server: FeedServer,
    make_config: ConfigMaker,
    run,  # type: ignore[no-untyped-def]
) -> None:
    feeds = [(f"f{i}", feed_server.set(f"/f{i}.xml", rss2(ITEMS))) for i in range(30)]
    config = make_config(feeds, extra="[polling]\nper_host_concurrency = 3\n")
    assert run(config).count("fetched") == 30
    feed_server.requests.clear()
    second = run(config)
    assert second.count("not_modified") == 30
    connections = {r.connection for r in feed_server.requests}
    assert len(connections) <= 3, f"30 answers of 304 took {len(connections)} connections"


def test_unchanged_body_without_validators_is_not_parsed_again(
    feed_server: FeedServer,
    make_config: ConfigMaker,
    run,  # type: ignore[no-untyped-def]
) -> None:
    url = feed_server.set("/f.xml", rss2(ITEMS), validators=False)
    config = make_config([("f", url)])
    assert run(config).count("fetched") == 1
    second = run(config)
    assert second.count("not_modified") == 1 and second.new_entries == 0
    assert "If-None-Match" not in feed_server.requests_for("/f.xml")[1].headers


def test_json_feed_is_stored_like_its_atom_twin(
    feed_server: FeedServer,
    make_config: ConfigMaker,
    tmp_path: Path,
    run,  # type: ignore[no-untyped-def]
) -> None:
    items = [("urn:a", "Yarmouk camp", "Residents & aid"), ("urn:b", "Second", "More text")]
    twin = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Test Atom",
        "items": [
            {
                "id": f"urn:{g}",
                "url": f"https://atom.example.org/{g}",
                "title": t,
                "summary": d,
                "date_modified": "2026-11-02T10:00:00Z",
            }
            for g, t, d in items
        ],
    }
    config = make_config(
        [
            ("atom", feed_server.set("/a.xml", atom(items), content_type="application/atom+xml")),
            (
                "json",
                feed_server.set("/f.json", json.dumps(twin), content_type="application/feed+json"),
            ),
        ]
    )
    assert run(config).new_entries == 4
    with sqlite3.connect(tmp_path / "data" / "aggregator.db") as conn:
        rows = conn.execute(
            "SELECT f.name, e.entry_key, e.canonical_url, e.title, e.summary, e.updated "
            "FROM entries e JOIN feeds f ON f.id = e.feed_id ORDER BY e.entry_key, f.name"
        ).fetchall()
    by_feed: dict[str, list[tuple[object, ...]]] = {}
    for name, *rest in rows:
        by_feed.setdefault(name, []).append(tuple(rest))
    assert by_feed["atom"] == by_feed["json"]
    assert by_feed["json"][0][2:4] == ("Yarmouk camp", "Residents & aid")
