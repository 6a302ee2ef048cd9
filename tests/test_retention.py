"""Retention: prune old entries and stories, keep tombstones, keep the outbox whole."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from aggregator.cli import main
from aggregator.daemon import PRUNE_EVERY, Daemon
from aggregator.dedup import DedupPolicy
from aggregator.fingerprint import feed_fingerprints
from aggregator.normalize import canonical_url
from aggregator.settings import load_settings
from aggregator.storage import feeds as feed_store
from aggregator.storage import outbox
from aggregator.storage.db import Database
from aggregator.storage.ingest import ingest
from aggregator.storage.retention import prune
from aggregator.types import EntryData, FeedState, MatchResult, Route
from tests.conftest import ConfigMaker
from tests.helpers.alerting import SECRET_ENV, channels_toml, watchlist_toml
from tests.helpers.feedserver import FeedServer
from tests.helpers.receivers import WebhookReceiver
from tests.helpers.stories import BODY, LEAD, OTHER, rss_items

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
POLICY = DedupPolicy(similarity=0.4)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    database.migrate()
    yield database
    database.dispose()


def _entry(key: str, body: str, link: str) -> EntryData:
    return EntryData(key, link, canonical_url(link), key, "", body, "", (), None, None, key)


def _ingest(db: Database, feed: FeedState, item: EntryData, at: datetime, *lists: str) -> int:
    routes = {item.entry_key: [Route(MatchResult(w, ("x",), ()), ("hook",)) for w in lists]}
    with db.transaction() as s:
        return ingest(s, feed, [item], routes, at, feed_fingerprints([item]), POLICY)[0]


def _count(db: Database, sql: str) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(text(sql)).scalar_one())


def test_prune_deletes_old_keeps_tombstones_young_and_pending(db: Database) -> None:
    with db.transaction() as s:
        feed_store.reconcile_feeds(s, [feed_store.ConfiguredFeed("f", "https://f/feed")], NOW)
        feed = feed_store.active_feeds(s)[0]
    old, young = NOW - 100 * DAY, NOW - DAY
    story_a, story_b = "\n".join([LEAD, *BODY[:4]]), "\n".join(OTHER[:4])
    _ingest(db, feed, _entry("old", story_a, "https://x/old"), old, "w")
    _ingest(db, feed, _entry("other", story_b, "https://x/other"), old)  # a second old story
    _ingest(db, feed, _entry("bridge", f"{story_a}\n{story_b}", "https://x/b"), old, "w")
    _ingest(db, feed, _entry("pending", "Yarmouk brief.", "https://x/p"), old)
    _ingest(db, feed, _entry("young", story_b + "\nMore.", "https://y/young"), young)
    _ingest(db, feed, _entry("kept", "Old page.", "https://x/kept"), old)  # revisited later:
    _ingest(db, feed, _entry("revisit", "Same page.", "https://x/kept?utm_source=rss"), young)
    assert _count(db, "SELECT count(*) FROM stories WHERE merged_into IS NOT NULL") == 1
    pending_story = _count(db, "SELECT story_id FROM entries WHERE entry_key = 'pending'")
    with db.transaction() as s:  # an alert queued an hour ago on an old story: not lost
        entry_id = _count(db, "SELECT id FROM entries WHERE entry_key = 'pending'")
        match = MatchResult("w", ("x",), ())
        ids = outbox.record_match(
            s, story_id=pending_story, entry_id=entry_id, match=match, channels=["hook"],
            now=NOW - timedelta(hours=1),
        )  # fmt: skip
    report = prune(db, older_than=90 * DAY, now=NOW, window=3 * DAY, keep_pending=3 * DAY, batch=2)
    assert (report.entries, report.stories) == (5, 1)
    assert report.bands > 0 and _count(db, "SELECT count(*) FROM story_bands") == 20
    assert _count(db, "SELECT count(*) FROM entries") == 2
    keys = f"SELECT count(*) FROM entry_tombstones WHERE feed_id = {feed.id}"
    assert _count(db, keys) == 5
    assert _count(db, "SELECT count(*) FROM stories") == 3, "pending, young, revisited"
    assert _count(db, f"SELECT count(*) FROM stories WHERE id = {pending_story}") == 1
    assert _count(db, "SELECT count(*) FROM matches") == 1, "the merged group's went along"
    delivery = f"SELECT count(*) FROM deliveries WHERE id = '{ids[0]}' AND status = 'pending'"
    assert _count(db, delivery) == 1
    # The pruned entries are still in the feed, some of them edited: nothing is new.
    for key in ("old", "other", "bridge", "pending", "kept"):
        edited = _entry(key, story_a + "\nAn edit.", f"https://x/{key}")
        assert _ingest(db, feed, edited, NOW, "w", "w2") == 0
    assert _count(db, "SELECT count(*) FROM matches") == 1
    assert _count(db, "SELECT count(*) FROM entries") == 2


@pytest.fixture
def _secret(webhook_receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch) -> None:
    assert webhook_receiver.secret is not None
    monkeypatch.setenv(SECRET_ENV, webhook_receiver.secret)


ITEM = ("g-1", "Yarmouk camp falls", "https://wire.example/1", "\n".join([LEAD, *BODY]))


@pytest.mark.usefixtures("_secret")
def test_prune_then_poll_again_finds_nothing_new_and_sends_nothing(
    feed_server: FeedServer,
    webhook_receiver: WebhookReceiver,
    make_config: ConfigMaker,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = feed_server.set("/f.xml", rss_items([ITEM]))
    config = make_config(
        [("f", url)],
        extra=channels_toml(webhook_receiver, None),
        watchlists=watchlist_toml("yarmouk", ["Yarmouk"], ["hook"]),
    )
    poll = ["poll", "--config", str(config), "--deliver-timeout", "10"]
    assert main(poll) == 0
    assert "1 new entries" in capsys.readouterr().out
    assert len(webhook_receiver.deliveries) == 1
    time.sleep(1.1)
    assert main(["db", "prune", "--older-than", "1s", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "1 entries (their keys kept as tombstones), 1 stories" in out, out
    edited = (ITEM[0], ITEM[1] + " (update)", ITEM[2], ITEM[3] + "\nAn edit.")
    feed_server.set("/f.xml", rss_items([edited]))  # still in the feed, and changed
    assert main(poll) == 0
    out = capsys.readouterr().out
    assert "0 new entries, 0 updated" in out and "0 new matches" in out, out
    assert len(webhook_receiver.deliveries) == 1


def test_prune_rejects_a_bad_age(
    make_config: ConfigMaker, capsys: pytest.CaptureFixture[str]
) -> None:
    config = make_config([])
    assert main(["db", "prune", "--older-than", "soon", "--config", str(config)]) == 2
    assert "--older-than" in capsys.readouterr().err


def test_the_daemon_prunes_daily_with_the_configured_age(
    make_config: ConfigMaker, tmp_path: Path
) -> None:
    config = make_config([("f", "https://f.example/feed")], extra='[retention]\nmax_age = "2d"\n')
    settings = load_settings(config, dict(os.environ))
    Database(settings.storage.url).migrate()
    with Database(settings.storage.url).transaction() as s:
        feed_store.reconcile_feeds(s, [feed_store.ConfiguredFeed("f", "https://f/feed")], NOW)
        feed = feed_store.active_feeds(s)[0]
    db = Database(settings.storage.url)
    now = datetime.now(UTC)
    _ingest(db, feed, _entry("three-days", "\n".join(OTHER), "https://x/3"), now - 3 * DAY)
    _ingest(db, feed, _entry("one-day", "\n".join([LEAD, *BODY]), "https://x/1"), now - DAY)

    async def run() -> None:
        daemon = Daemon(settings, "test")
        try:
            job = daemon._scheduler().get_job("prune")
            assert job is not None and job.trigger.interval == PRUNE_EVERY
            await daemon.prune()
        finally:
            daemon.poller.close()
            daemon.db.dispose()

    asyncio.run(run())
    assert [r for (r,) in db.engine.connect().execute(text("SELECT entry_key FROM entries"))] == [
        "one-day"
    ]
    db.dispose()
