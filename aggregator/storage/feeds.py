"""Queries on the feeds table: reconcile with the config, fetch state, and listings.

Functions take an open Session and values, and return `aggregator.types` objects; they
never commit (the caller's transaction does) and never touch the network.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, literal, or_, text, update
from sqlmodel import Session, col, select

from aggregator.errors import StorageError
from aggregator.storage.models import Entry, Feed
from aggregator.types import FeedState

_FEEDS = Feed.__table__  # type: ignore[attr-defined]

# An arbitrary constant: the advisory lock key that serialises config reconciliation.
RECONCILE_LOCK = 7_311_004_212


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
    lease_owner: str | None = None


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
    URL changed forgets its validators, since they belonged to the old URL. Instances
    sharing a PostgreSQL database reconcile one at a time (a transaction-scoped lock).
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": RECONCILE_LOCK})
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


def claim_due(
    session: Session, *, now: datetime, owner: str, lease: timedelta, limit: int
) -> list[FeedState]:
    """Lease up to `limit` due feeds to `owner`; others skip them until the lease ends.

    On PostgreSQL `FOR UPDATE SKIP LOCKED` lets several instances claim at once without
    waiting on or double-claiming each other's rows; an instance that dies leaves leases
    that simply expire.
    """
    query = (
        select(Feed)
        .where(col(Feed.removed_at).is_(None), col(Feed.gone_at).is_(None))
        .where(or_(col(Feed.next_poll_at).is_(None), col(Feed.next_poll_at) <= now))
        .where(or_(col(Feed.lease_expires_at).is_(None), col(Feed.lease_expires_at) < now))
        .order_by(col(Feed.next_poll_at))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    feeds = session.exec(query).all()
    for feed in feeds:
        feed.lease_owner, feed.lease_expires_at = owner, now + lease
    session.flush()
    return [_state(f) for f in feeds]


def release_all(session: Session) -> None:
    """Drop every feed lease: only for a single-instance database, at start-up."""
    for feed in session.exec(select(Feed).where(col(Feed.lease_owner).is_not(None))).all():
        feed.lease_owner = feed.lease_expires_at = None


def release(session: Session, feed_ids: Sequence[int], owner: str) -> None:
    """Give back leases this owner still holds (a stop before the poll finished)."""
    for feed_id in feed_ids:
        feed = session.get(Feed, feed_id)
        if feed is not None and feed.lease_owner == owner:
            feed.lease_owner = feed.lease_expires_at = None


def _success(with_validators: bool) -> Any:
    """The UPDATE of a successful fetch, built once: a poll runs it for every feed."""
    c = _FEEDS.c
    values: dict[str, Any] = {
        "last_status": bindparam("status"),
        "last_fetched_at": bindparam("now"),
        "next_poll_at": bindparam("next"),
        "lease_owner": None,
        "lease_expires_at": None,
        "consecutive_errors": 0,
        "last_error": None,
        "failing_since": None,
        # None keeps what is stored: a move is only ever learned, never forgotten here.
        "moved_to": func.coalesce(bindparam("moved_to", type_=c.moved_to.type), c.moved_to),
        "learned_interval": func.coalesce(
            bindparam("learned", type_=c.learned_interval.type), c.learned_interval
        ),
    }
    if with_validators:
        values |= {k: bindparam(k) for k in ("etag", "last_modified", "body_hash")}
    return update(_FEEDS).where(c.id == bindparam("feed")).values(values)


_SUCCESS_304, _SUCCESS = _success(False), _success(True)


def record_success(session: Session, feed_id: int, outcome: FetchOutcome, now: datetime) -> None:
    params: dict[str, object] = {
        "feed": feed_id,
        "status": outcome.status,
        "now": now,
        "next": outcome.next_poll_at,
        "moved_to": outcome.moved_to or None,
        "learned": outcome.learned_interval,
    }
    statement = _SUCCESS_304
    if outcome.status != 304:  # a 200 answer replaces the validators, absent ones too
        statement = _SUCCESS
        params |= {
            "etag": outcome.etag,
            "last_modified": outcome.last_modified,
            "body_hash": outcome.body_hash,
        }
    session.flush()  # see _update
    if session.connection().execute(statement, params).rowcount != 1:
        raise StorageError(f"feed {feed_id} is not in the database")


def record_failure(
    session: Session,
    feed_id: int,
    *,
    error: str,
    status: int | None,
    now: datetime,
    next_poll_at: datetime,
) -> None:
    """Store the error on the feed and count it among its consecutive errors.

    410 Gone marks the feed gone: it is not polled again until its URL changes.
    """
    values: dict[str, object] = {
        "last_status": status,
        "last_fetched_at": now,
        "next_poll_at": next_poll_at,
        "lease_owner": None,
        "lease_expires_at": None,
        "consecutive_errors": _FEEDS.c.consecutive_errors + 1,
        "last_error": error[:2000],
        "last_error_at": now,
        "failing_since": func.coalesce(
            _FEEDS.c.failing_since, literal(now, _FEEDS.c.failing_since.type)
        ),
    }
    if status == 410:
        values["gone_at"] = now
    _update(session, feed_id, values)


def consecutive_errors(session: Session, feed_id: int) -> int:
    query = select(_FEEDS.c.consecutive_errors).where(_FEEDS.c.id == feed_id)
    return int(session.connection().execute(query).scalar_one())


def _update(session: Session, feed_id: int, values: dict[str, object]) -> None:
    # Core, not ORM: loading each Feed only to set columns cost more than the UPDATE,
    # which a poll runs for every feed. Flush first, so that no pending ORM change to
    # the same row (made earlier in this session) lands after it.
    session.flush()
    session.connection().execute(update(_FEEDS).where(_FEEDS.c.id == feed_id).values(values))


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
            lease_owner=f.lease_owner,
        )
        for f in feeds
    ]
