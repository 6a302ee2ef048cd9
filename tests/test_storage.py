"""Storage on SQLite and on the real PostgreSQL: migrations, reconcile, entries."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlmodel import Session

from aggregator.errors import StorageError
from aggregator.storage import entries as entry_store
from aggregator.storage import feeds as feed_store
from aggregator.storage.db import Database
from aggregator.storage.ingest import ingest
from aggregator.types import EntryData, FeedState

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[1]


def ok(**changes: object) -> feed_store.FetchOutcome:
    values: dict[str, object] = {
        "status": 200,
        "etag": None,
        "last_modified": None,
        "next_poll_at": NOW,
    }
    return feed_store.FetchOutcome(**{**values, **changes})  # type: ignore[arg-type]


def entry(key: str, title: str = "A title", url: str | None = None) -> EntryData:
    return EntryData(
        entry_key=key,
        link=url,
        canonical_url=url,
        title=title,
        summary="summary",
        content="content",
        author="someone",
        categories=("news", "syria"),
        published=NOW - timedelta(hours=1),
        updated=None,
        content_hash=f"h-{key}-{title}",
    )


@pytest.fixture
def db(db_url: str) -> Database:
    database = Database(db_url)
    database.migrate()
    yield database  # type: ignore[misc]
    database.dispose()


def _feed(db: Database, name: str = "one", url: str = "https://a.example/feed") -> int:
    with db.transaction() as s:
        feed_store.reconcile_feeds(s, [feed_store.ConfiguredFeed(name, url)], NOW)
        return feed_store.active_feeds(s)[0].id


def test_migrate_creates_tables_and_is_idempotent(db: Database) -> None:
    db.migrate()
    tables = set(inspect(db.engine).get_table_names())
    assert {"feeds", "entries", "alembic_version"} <= tables


def test_sqlite_runs_in_wal_with_foreign_keys(sqlite_url: str) -> None:
    database = Database(sqlite_url)
    with database.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 30000


def store(s: Session, feed_id: int, items: list[EntryData]) -> tuple[int, int, int]:
    """(new, updated, matches) after ingesting `items` into feed `feed_id`."""
    return ingest(s, FeedState(feed_id, "one", "https://a.example/feed"), items, {}, NOW)


def test_store_new_then_same_then_changed(db: Database) -> None:
    feed_id = _feed(db)
    with db.transaction() as s:
        assert store(s, feed_id, [entry("a"), entry("b")]) == (2, 0, 0)
    with db.transaction() as s:
        assert store(s, feed_id, [entry("a"), entry("b")]) == (0, 0, 0)
    with db.transaction() as s:
        assert store(s, feed_id, [entry("a", "New title")]) == (0, 1, 0)
        assert entry_store.count_entries(s, feed_id) == 2
    with db.engine.connect() as conn:
        titles = conn.execute(text("SELECT title FROM entries ORDER BY entry_key")).all()
    assert [t for (t,) in titles] == ["New title", "A title"]


def test_repeated_key_within_one_batch_counts_once(db: Database) -> None:
    feed_id = _feed(db)
    with db.transaction() as s:
        assert store(s, feed_id, [entry("a"), entry("a", "other")]) == (1, 0, 0)
        assert entry_store.count_entries(s) == 1
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT title FROM entries")).scalar() == "A title"


def test_entries_with_one_canonical_url_share_a_story(db: Database) -> None:
    one, two = _feed(db, "one"), None
    with db.transaction() as s:
        feed_store.reconcile_feeds(
            s,
            [
                feed_store.ConfiguredFeed("one", "https://a.example/feed"),
                feed_store.ConfiguredFeed("two", "https://b.example/feed"),
            ],
            NOW,
        )
        two = next(f.id for f in feed_store.active_feeds(s) if f.name == "two")
        store(s, one, [entry("a", url="https://x.example/s"), entry("lone")])
        store(s, two, [entry("b", url="https://x.example/s")])
    with db.engine.connect() as conn:
        rows = dict(conn.execute(text("SELECT entry_key, story_id FROM entries")).all())
        stories = conn.execute(text("SELECT count(*) FROM stories")).scalar()
    assert rows["a"] == rows["b"] and rows["lone"] not in (None, rows["a"])
    assert stories == 2


def test_stored_values_round_trip(db: Database) -> None:
    feed_id = _feed(db)
    original = replace(entry("k", url="https://x.example/s"), title="Yarmūk اليرموك")
    with db.transaction() as s:
        store(s, feed_id, [original])
    with db.engine.connect() as conn:
        row = conn.execute(text("SELECT title, canonical_url FROM entries")).one()
    assert tuple(row) == ("Yarmūk اليرموك", "https://x.example/s")
    with db.transaction() as s:
        rows = feed_store.feed_rows(s)
    assert rows[0].entries == 1


def test_reconcile_add_remove_rename_url_keeps_entries(db: Database) -> None:
    feed_id = _feed(db, "one", "https://a.example/feed")
    with db.transaction() as s:
        store(s, feed_id, [entry("a")])
        feed_store.record_success(s, feed_id, ok(etag='"e"', last_modified="x"), NOW)
    configured = [
        feed_store.ConfiguredFeed("one", "https://a.example/moved"),
        feed_store.ConfiguredFeed("two", "https://b.example/feed"),
    ]
    with db.transaction() as s:
        report = feed_store.reconcile_feeds(s, configured, NOW)
    assert report.added == ("two",) and report.url_changed == ("one",)
    with db.transaction() as s:
        states = {f.name: f for f in feed_store.active_feeds(s)}
        assert entry_store.count_entries(s, feed_id) == 1
    assert states["one"].url == "https://a.example/moved"
    assert states["one"].etag is None, "validators of the old URL must be forgotten"
    with db.transaction() as s:
        report = feed_store.reconcile_feeds(s, configured[1:], NOW)
        assert report.removed == ("one",)
        assert [f.name for f in feed_store.active_feeds(s)] == ["two"]
        assert entry_store.count_entries(s, feed_id) == 1, "a removed feed keeps its entries"
        report = feed_store.reconcile_feeds(s, configured, NOW)
    assert report.restored == ("one",)


def test_failure_counts_and_success_resets(db: Database) -> None:
    feed_id = _feed(db)
    with db.transaction() as s:
        for _ in range(3):
            feed_store.record_failure(
                s, feed_id, error="HTTP 500", status=500, now=NOW, next_poll_at=NOW
            )
        assert feed_store.consecutive_errors(s, feed_id) == 3
        feed_store.record_success(s, feed_id, ok(), NOW)
        row = feed_store.feed_rows(s)[0]
    assert row.consecutive_errors == 0 and row.last_error is None and row.last_status == 200


def test_success_for_a_feed_that_is_not_stored_is_an_error(db: Database) -> None:
    with pytest.raises(StorageError, match="not in the database"), db.transaction() as s:
        feed_store.record_success(s, 424242, ok(), NOW)


def due(s: Session, at: datetime, owner: str = "me") -> list[int]:
    claimed = feed_store.claim_due(s, now=at, owner=owner, lease=timedelta(minutes=5), limit=10)
    return [f.id for f in claimed]


def test_claims_lease_due_feeds_to_one_owner_until_expiry(db: Database) -> None:
    feed_id = _feed(db)
    with db.transaction() as s:
        assert due(s, NOW, "a") == [feed_id]
    with db.transaction() as s:
        assert due(s, NOW, "b") == [], "leased to a"
        assert due(s, NOW + timedelta(minutes=6), "b") == [feed_id], "a's lease expired"
        feed_store.record_success(s, feed_id, ok(next_poll_at=NOW + timedelta(hours=1)), NOW)
        assert feed_store.feed_rows(s)[0].lease_owner is None


def test_due_feeds_respects_next_poll(db: Database) -> None:
    feed_id = _feed(db)
    with db.transaction() as s:
        assert due(s, NOW) == [feed_id]
        feed_store.release(s, [feed_id], "me")
        feed_store.record_success(s, feed_id, ok(next_poll_at=NOW + timedelta(minutes=15)), NOW)
        assert due(s, NOW + timedelta(minutes=14)) == []
        assert due(s, NOW + timedelta(minutes=16)) == [feed_id]


def test_datetimes_come_back_aware_utc(db: Database) -> None:
    feed_id = _feed(db)
    with db.transaction() as s:
        feed_store.record_success(s, feed_id, ok(), NOW)
    with db.transaction() as s:
        row = feed_store.feed_rows(s)[0]
    assert row.last_fetched_at == NOW and row.last_fetched_at.tzinfo is not None


def _alembic(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "alembic", "-x", f"url={url}", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_alembic_upgrade_head_then_check_is_clean(db_url: str) -> None:
    upgrade = _alembic(db_url, "upgrade", "head")
    assert upgrade.returncode == 0, upgrade.stderr
    check = _alembic(db_url, "check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "No new upgrade operations detected" in check.stdout + check.stderr
