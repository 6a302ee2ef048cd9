"""`aggregator poll` and `aggregator feeds` end to end: loopback feeds, a real SQLite file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from aggregator.cli import main
from tests.conftest import ConfigMaker
from tests.helpers.feeds import atom, rss1, rss2
from tests.helpers.feedserver import FeedServer

ITEMS = [(f"id-{i}", f"Story number {i}", f"<p>Body <b>{i}</b> &amp; more</p>") for i in range(5)]


def poll(config: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    code = main(["poll", "--config", str(config), "--deliver-timeout", "2", *extra])
    out = capsys.readouterr().out
    assert code == 0, out
    return out


def db_rows(tmp_path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(tmp_path / "data" / "aggregator.db") as conn:
        return conn.execute(sql).fetchall()


@pytest.fixture
def three_formats(feed_server: FeedServer, make_config: ConfigMaker) -> Path:
    return make_config(
        [
            ("rss2", feed_server.set("/rss2.xml", rss2(ITEMS))),
            (
                "atom",
                feed_server.set("/atom.xml", atom(ITEMS), content_type="application/atom+xml"),
            ),
            ("rss1", feed_server.set("/rss1.xml", rss1(ITEMS), content_type="application/rdf+xml")),
        ]
    )


def test_first_poll_stores_every_entry_of_each_format(
    three_formats: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = poll(three_formats, capsys)
    assert "3 feeds: 3 fetched, 0 not modified, 0 failed; 15 new entries" in out
    counts = dict(
        db_rows(
            tmp_path,
            "SELECT f.name, count(*) FROM entries e JOIN feeds f "
            "ON f.id = e.feed_id GROUP BY f.name",
        )
    )
    assert counts == {"rss2": 5, "atom": 5, "rss1": 5}
    titles = {r[0] for r in db_rows(tmp_path, "SELECT title FROM entries")}
    assert "Story number 3" in titles
    summaries = {r[0] for r in db_rows(tmp_path, "SELECT summary FROM entries")}
    assert "Body 3 & more" in summaries, "HTML is stored as plain text"


def test_second_poll_sends_validators_and_changes_nothing(
    three_formats: Path,
    tmp_path: Path,
    feed_server: FeedServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    poll(three_formats, capsys)
    before = db_rows(tmp_path, "SELECT id, content_hash, last_changed_at FROM entries ORDER BY id")
    out = poll(three_formats, capsys)
    assert "3 feeds: 0 fetched, 3 not modified, 0 failed; 0 new entries, 0 updated" in out
    assert all("If-None-Match" in r.headers for r in feed_server.requests_for("/rss2.xml")[1:])
    after = db_rows(tmp_path, "SELECT id, content_hash, last_changed_at FROM entries ORDER BY id")
    assert before == after


def test_changed_entry_is_updated_not_duplicated(
    feed_server: FeedServer,
    make_config: ConfigMaker,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = make_config([("news", feed_server.set("/f.xml", rss2(ITEMS)))])
    poll(config, capsys)
    changed = [*ITEMS[:2], ("id-2", "Story number 2 (updated)", "new body"), *ITEMS[3:]]
    feed_server.set("/f.xml", rss2(changed))
    out = poll(config, capsys)
    assert "0 new entries, 1 updated" in out
    rows = db_rows(tmp_path, "SELECT title FROM entries WHERE entry_key = 'id-2'")
    assert rows == [("Story number 2 (updated)",)]
    assert db_rows(tmp_path, "SELECT count(*) FROM entries") == [(5,)]


def test_broken_feeds_are_recorded_and_the_others_stored(
    feed_server: FeedServer,
    make_config: ConfigMaker,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = make_config(
        [
            ("good", feed_server.set("/good.xml", rss2(ITEMS))),
            ("error", feed_server.set("/500", "oops", status=500)),
            (
                "html",
                feed_server.set(
                    "/page", "<html><body><p>Hi</p></body></html>", content_type="text/html"
                ),
            ),
            ("slow", feed_server.set("/slow", rss2(ITEMS), delay=4)),
            ("refused", "http://127.0.0.1:9/feed.xml"),
        ],
        timeout="1s",
    )
    out = poll(config, capsys)
    assert "5 feeds: 1 fetched, 0 not modified, 4 failed; 5 new entries" in out
    assert "FAILED error: HTTP 500" in out
    assert "FAILED html: not a feed" in out
    assert "FAILED slow: timed out" in out
    assert "FAILED refused: cannot connect" in out
    errors = dict(db_rows(tmp_path, "SELECT name, consecutive_errors FROM feeds"))
    assert errors == {"good": 0, "error": 1, "html": 1, "slow": 1, "refused": 1}
    assert main(["feeds", "--config", str(config)]) == 0
    table = capsys.readouterr().out
    assert "HTTP 500" in table and "error 500" in table
    assert table.splitlines()[0].split()[:2] == ["NAME", "STATUS"]


def test_poll_only_named_feeds_and_follow_config_edits(
    feed_server: FeedServer,
    make_config: ConfigMaker,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    a, b = feed_server.set("/a.xml", rss2(ITEMS)), feed_server.set("/b.xml", atom(ITEMS))
    config = make_config([("a", a), ("b", b)])
    out = poll(config, capsys, "--feed", "b")
    assert "1 feeds: 1 fetched" in out and feed_server.requests_for("/a.xml") == []
    make_config([("a", a)])
    out = poll(config, capsys)
    assert "1 feeds: 1 fetched" in out
    assert len(feed_server.requests_for("/b.xml")) == 1, "a removed feed is not polled"
    assert db_rows(tmp_path, "SELECT count(*) FROM entries") == [(10,)], "entries kept"


def test_config_error_exits_1_naming_file_and_key(
    make_config: ConfigMaker, capsys: pytest.CaptureFixture[str]
) -> None:
    config = make_config([("a", "http://127.0.0.1:1/a.xml")])
    with (config / "feeds.toml").open("a") as fh:
        fh.write('interval = "soon"\n')
    assert main(["poll", "--config", str(config)]) == 1
    assert "feeds.toml: feeds[0].interval" in capsys.readouterr().err
    assert main(["check", "--config", str(config)]) == 1


def test_check_accepts_the_shipped_config(capsys: pytest.CaptureFixture[str]) -> None:
    shipped = Path(__file__).resolve().parents[1] / "config"
    assert main(["check", "--config", str(shipped)]) == 0
    assert "config OK" in capsys.readouterr().out
