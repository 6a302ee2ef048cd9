"""Storage on SQLite and on the real PostgreSQL: migrations, reconcile, entries."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from aggregator.storage import entries as entry_store
from aggregator.storage import feeds as feed_store
from aggregator.storage.db import Database
from aggregator.types import EntryData

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[1]


def ok(**changes: object) -> feed_store.FetchOutcome:
    values: dict[str, object] = {
        "status": 200, "etag": None, "last_modified": None, "next_poll_at": NOW,
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


def test_store_new_then_same_then_changed(db: Database) -> None:
    feed_id = _feed(db)
    with db.transaction() as s:
        stored = entry_store.store_entries(s, feed_id, [entry("a"), entry("b")], NOW)
    assert [(x.data.entry_key, x.is_update) for x in stored] == [("a", False), ("b", False)]
    with db.transaction() as s:
        assert entry_store.store_entries(s, feed_id, [entry("a"), entry("b")], NOW) == []
    with db.transaction() as s:
        changed = entry_store.store_entries(s, feed_id, [entry("a", "New title")], NOW)
        assert entry_store.count_entries(s, feed_id) == 2
    assert [(x.data.title, x.is_update) for x in changed] == [("New title", True)]


def test_repeated_key_within_one_batch_counts_once(db: Database) -> None:
    feed_id = _feed(db)
    with db.transaction() as s:
        stored = entry_store.store_entries(s, feed_id, [entry("a"), entry("a", "other")], NOW)
        assert entry_store.count_entries(s) == 1
    assert stored[0].data.title == "A title"


def test_stored_values_round_trip(db: Database) -> None:
    feed_id = _feed(db)
    original = replace(entry("k", url="https://x.example/s"), title="Yarmūk اليرموك")
    with db.transaction() as s:
        entry_store.store_entries(s, feed_id, [original], NOW)
    with db.engine.connect() as conn:
        row = conn.execute(text("SELECT title, canonical_url FROM entries")).one()
    assert tuple(row) == ("Yarmūk اليرموك", "https://x.example/s")
    with db.transaction() as s:
        rows = feed_store.feed_rows(s)
    assert rows[0].entries == 1


def test_reconcile_add_remove_rename_url_keeps_entries(db: Database) -> None:
    feed_id = _feed(db, "one", "https://a.example/feed")
    with db.transaction() as s:
        entry_store.store_entries(s, feed_id, [entry("a")], NOW)
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


def test_due_feeds_respects_next_poll(db: Database) -> None:
    feed_id = _feed(db)
    with db.transaction() as s:
        assert [f.id for f in feed_store.due_feeds(s, NOW, 10)] == [feed_id]
        feed_store.record_success(s, feed_id, ok(next_poll_at=NOW + timedelta(minutes=15)), NOW)
        assert feed_store.due_feeds(s, NOW + timedelta(minutes=14), 10) == []
        assert len(feed_store.due_feeds(s, NOW + timedelta(minutes=16), 10)) == 1


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
