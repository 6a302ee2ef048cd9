"""Queries on the feeds table: reconcile with the config, fetch state, and listings.

Functions take an open Session and values, and return `aggregator.types` objects; they
never commit (the caller's transaction does) and never touch the network.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from aggregator.storage.models import Entry, Feed
from aggregator.types import FeedState


@dataclass(frozen=True, slots=True)
class ConfiguredFeed:
    """The part of a feed's config that the feeds table mirrors."""

    name: str
    url: str


@dataclass(frozen=True, slots=True)
class ReconcileReport:
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    url_changed: tuple[str, ...] = ()
    restored: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FeedRow:
    """A feed as `aggregator feeds` shows it."""

    name: str
    url: str
    last_status: int | None
    last_fetched_at: datetime | None
    next_poll_at: datetime | None
    consecutive_errors: int
    last_error: str | None
    entries: int
    moved_to: str | None = None
    gone_at: datetime | None = None
    failing_since: datetime | None = None


@dataclass(frozen=True, slots=True)
class FetchOutcome:
    """What a successful fetch (2xx or 304) changes on the feed row."""

    status: int
    etag: str | None
    last_modified: str | None
    next_poll_at: datetime
    moved_to: str | None = None
    body_hash: str | None = None
    learned_interval: int | None = None


def reconcile_feeds(
    session: Session, configured: Sequence[ConfiguredFeed], now: datetime
) -> ReconcileReport:
    """Make the table follow the config: add, soft-remove, restore, and follow URL edits.

    Removed feeds keep their entries (stories and alerts may refer to them); a feed whose
    URL changed forgets its validators, since they belonged to the old URL.
    """
    rows = {feed.name: feed for feed in session.exec(select(Feed)).all()}
    wanted = {c.name: c for c in configured}
    added, removed, changed, restored = [], [], [], []
    for name, conf in wanted.items():
        row = rows.get(name)
        if row is None:
            session.add(Feed(name=name, url=conf.url, created_at=now, next_poll_at=now))
            added.append(name)
            continue
        if row.removed_at is not None:
            row.removed_at = None
            row.next_poll_at = now
            restored.append(name)
        if row.url != conf.url:
            _forget_url_state(row)
            row.url, row.next_poll_at = conf.url, now
            changed.append(name)
    for name, row in rows.items():
        if name not in wanted and row.removed_at is None:
            row.removed_at = now
            removed.append(name)
    session.flush()
    return ReconcileReport(tuple(added), tuple(removed), tuple(changed), tuple(restored))


def _forget_url_state(row: Feed) -> None:
    """Validators, moves, gone and body hash belonged to the old URL."""
    row.etag = row.last_modified = row.moved_to = row.body_hash = None
    row.gone_at = None


def _state(feed: Feed) -> FeedState:
    assert feed.id is not None
    return FeedState(
        id=feed.id,
        name=feed.name,
        url=feed.url,
        etag=feed.etag,
        last_modified=feed.last_modified,
        moved_to=feed.moved_to,
        body_hash=feed.body_hash,
        learned_interval=feed.learned_interval,
        consecutive_errors=feed.consecutive_errors,
    )


def active_feeds(session: Session, names: Sequence[str] | None = None) -> list[FeedState]:
    """Feeds in the config that are not gone (a gone feed is polled again once its URL changes)."""
    query = select(Feed).where(col(Feed.removed_at).is_(None), col(Feed.gone_at).is_(None))
    if names is not None:
        query = query.where(col(Feed.name).in_(list(names)))
    return [_state(f) for f in session.exec(query.order_by(col(Feed.name))).all()]


def due_feeds(session: Session, now: datetime, limit: int) -> list[FeedState]:
    query = (
        select(Feed)
        .where(col(Feed.removed_at).is_(None), col(Feed.gone_at).is_(None))
        .where((col(Feed.next_poll_at).is_(None)) | (col(Feed.next_poll_at) <= now))
        .order_by(col(Feed.next_poll_at))
        .limit(limit)
    )
    return [_state(f) for f in session.exec(query).all()]


def record_success(session: Session, feed_id: int, outcome: FetchOutcome, now: datetime) -> None:
    feed = session.get_one(Feed, feed_id)
    if outcome.status != 304:
        feed.etag, feed.last_modified = outcome.etag, outcome.last_modified
        feed.body_hash = outcome.body_hash
    if outcome.moved_to and outcome.moved_to != feed.moved_to:
        feed.moved_to = outcome.moved_to
    if outcome.learned_interval is not None:
        feed.learned_interval = outcome.learned_interval
    feed.last_status = outcome.status
    feed.last_fetched_at = now
    feed.next_poll_at = outcome.next_poll_at
    feed.consecutive_errors = 0
    feed.last_error = None
    feed.failing_since = None


def record_failure(
    session: Session,
    feed_id: int,
    *,
    error: str,
    status: int | None,
    now: datetime,
    next_poll_at: datetime,
) -> int:
    """Store the error on the feed; returns the new count of consecutive errors.

    410 Gone marks the feed gone: it is not polled again until its URL changes.
    """
    feed = session.get_one(Feed, feed_id)
    feed.last_status = status
    feed.last_fetched_at = now
    feed.next_poll_at = next_poll_at
    feed.consecutive_errors += 1
    feed.last_error = error[:2000]
    feed.last_error_at = now
    feed.failing_since = feed.failing_since or now
    if status == 410:
        feed.gone_at = now
    return feed.consecutive_errors


def consecutive_errors(session: Session, feed_id: int) -> int:
    return session.get_one(Feed, feed_id).consecutive_errors


def feed_rows(session: Session) -> list[FeedRow]:
    counts = dict(
        session.exec(select(Entry.feed_id, func.count()).group_by(col(Entry.feed_id))).all()
    )
    feeds = session.exec(
        select(Feed).where(col(Feed.removed_at).is_(None)).order_by(col(Feed.name))
    ).all()
    return [
        FeedRow(
            name=f.name,
            url=f.url,
            last_status=f.last_status,
            last_fetched_at=f.last_fetched_at,
            next_poll_at=f.next_poll_at,
            consecutive_errors=f.consecutive_errors,
            last_error=f.last_error,
            entries=int(counts.get(f.id or 0, 0)),
            moved_to=f.moved_to,
            gone_at=f.gone_at,
            failing_since=f.failing_since,
        )
        for f in feeds
    ]
