"""The transactional outbox: matches, their deliveries, claims, and delivery outcomes.

`record_match` runs inside the same transaction that stored the entry, so a match never
exists without its deliveries and vice versa. Claims are short leases, so a crashed
dispatcher's work is picked up again; outcomes clear the lease. Never commits.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from aggregator.storage.clusters import root_of
from aggregator.storage.models import Delivery, Feed, Match, Story
from aggregator.storage.stories import story_sources
from aggregator.storage.upsert import insert_ignoring_conflicts
from aggregator.types import Alert, AlertStory, Highlight, MatchResult

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"


_id_lock = threading.Lock()
_last_stamp = 0


def new_delivery_id() -> str:
    """ "msg_" + 32 hex digits, time-ordered like a UUIDv7: microseconds (strictly rising in
    this process), then randomness. Ids made later sort later, so deliveries created in
    one transaction still go out in the order they were made."""
    global _last_stamp
    with _id_lock:
        _last_stamp = max(time.time_ns() // 1000, _last_stamp + 1)
        stamp = _last_stamp
    return f"msg_{stamp:014x}{os.urandom(9).hex()}"


def _insert_match(session: Session, values: dict[str, object]) -> int | None:
    """Insert unless (watchlist, story) already matched; returns the new id or None."""
    table = Match.__table__  # type: ignore[attr-defined]
    stmt = insert_ignoring_conflicts(session, table, values)
    row = session.execute(stmt.returning(table.c.id)).first()
    return None if row is None else int(row[0])


def record_match(
    session: Session,
    *,
    story_id: int,
    entry_id: int,
    match: MatchResult,
    channels: Sequence[str],
    now: datetime,
) -> list[str]:
    """Record a match and queue one delivery per channel; [] if the story already matched.

    "The story" is its whole group: a match on any story merged into the same root counts,
    so a merge never makes a watchlist alert twice. The root's row is locked first
    (PostgreSQL), so a concurrent merge of the same stories waits for this one or is
    seen by it; the unique (watchlist, story) key settles concurrent matches on one root.
    """
    story_id = _locked_root(session, story_id)
    if _group_matched(session, story_id, match.watchlist):
        return []
    match_id = _insert_match(
        session,
        {
            "watchlist": match.watchlist,
            "story_id": story_id,
            "entry_id": entry_id,
            "terms": list(match.terms),
            "highlights": [
                {"field": h.field, "term": h.term, "snippet": h.snippet} for h in match.highlights
            ],
            "created_at": now,
        },
    )
    if match_id is None:
        return []
    ids = [new_delivery_id() for _ in channels]
    for delivery_id, channel in zip(ids, channels, strict=True):
        session.add(
            Delivery(
                id=delivery_id,
                match_id=match_id,
                channel=channel,
                next_attempt_at=now,
                created_at=now,
            )
        )
    session.flush()
    return ids


def _locked_root(session: Session, story_id: int) -> int:
    for _ in range(8):  # merged_into is one hop; more only after concurrent merges
        row = session.exec(
            select(Story.id, Story.merged_into).where(Story.id == story_id).with_for_update()
        ).first()
        if row is None or row[1] is None:
            return story_id
        story_id = int(row[1])
    return story_id


def _group_matched(session: Session, root: int, watchlist: str) -> bool:
    query = (
        select(Match.id)
        .join(Story, col(Story.id) == col(Match.story_id))
        .where(Match.watchlist == watchlist)
        .where(or_(col(Story.id) == root, col(Story.merged_into) == root))
        .limit(1)
    )
    return session.exec(query).first() is not None


def claim_due(
    session: Session, *, now: datetime, owner: str, lease: timedelta, limit: int
) -> list[str]:
    """Lease up to `limit` due deliveries, oldest first; other claimers skip them."""
    query = (
        select(Delivery)
        .where(Delivery.status == PENDING, col(Delivery.next_attempt_at) <= now)
        .where(or_(col(Delivery.lease_expires_at).is_(None), col(Delivery.lease_expires_at) < now))
        .order_by(col(Delivery.created_at), col(Delivery.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = session.exec(query).all()
    for row in rows:
        row.lease_owner, row.lease_expires_at = owner, now + lease
    session.flush()
    return [row.id for row in rows]


@dataclass(frozen=True, slots=True)
class DeliveryState:
    id: str
    channel: str
    attempts: int
    created_at: datetime


def delivery_state(session: Session, delivery_id: str) -> DeliveryState:
    row = session.get_one(Delivery, delivery_id)
    return DeliveryState(row.id, row.channel, row.attempts, row.created_at)


def load_alert(session: Session, delivery_id: str) -> Alert:
    """Everything a channel needs, read in one short transaction before sending."""
    delivery = session.get_one(Delivery, delivery_id)
    match = session.get_one(Match, delivery.match_id)
    story = session.get_one(Story, root_of(session, match.story_id))
    feed = session.get_one(Feed, story.feed_id)
    highlights = tuple(Highlight(h["field"], h["term"], h["snippet"]) for h in match.highlights)
    assert story.id is not None
    return Alert(
        delivery_id=delivery.id,
        channel=delivery.channel,
        watchlist=match.watchlist,
        matched=tuple(match.terms),
        highlights=highlights,
        story=AlertStory(
            id=str(story.id),
            title=story.title,
            url=story.url,
            published=story.published,
            feed_name=feed.name,
            feed_url=feed.url,
            sources=tuple(story_sources(session, story.id)),
            snippet=highlights[0].snippet if highlights else "",
        ),
        created_at=match.created_at,
    )


def _finish(session: Session, delivery_id: str, now: datetime) -> Delivery:
    row = session.get_one(Delivery, delivery_id)
    row.attempts += 1
    row.lease_owner, row.lease_expires_at = None, None
    return row


def mark_delivered(session: Session, delivery_id: str, now: datetime) -> None:
    row = _finish(session, delivery_id, now)
    row.status, row.delivered_at, row.last_error = DELIVERED, now, None


def mark_retry(
    session: Session, delivery_id: str, *, error: str, next_attempt_at: datetime, now: datetime
) -> None:
    row = _finish(session, delivery_id, now)
    row.last_error, row.next_attempt_at = error[:2000], next_attempt_at


def mark_failed(session: Session, delivery_id: str, *, error: str, now: datetime) -> None:
    row = _finish(session, delivery_id, now)
    row.status, row.last_error = FAILED, error[:2000]


def release(session: Session, delivery_ids: Sequence[str]) -> None:
    """Give back leases without counting an attempt (graceful stop)."""
    for delivery_id in delivery_ids:
        row = session.get_one(Delivery, delivery_id)
        if row.status == PENDING:
            row.lease_owner, row.lease_expires_at = None, None


def release_all(session: Session) -> int:
    """Drop every lease: only for a single-instance database, at start-up after a crash."""
    rows = session.exec(
        select(Delivery).where(Delivery.status == PENDING, col(Delivery.lease_owner).is_not(None))
    ).all()
    for row in rows:
        row.lease_owner, row.lease_expires_at = None, None
    return len(rows)


def count_by_status(session: Session) -> dict[str, int]:
    rows = session.exec(select(Delivery.status, func.count()).group_by(col(Delivery.status)))
    return {status: int(n) for status, n in rows.all()}


def next_pending_at(session: Session) -> datetime | None:
    return session.exec(
        select(func.min(Delivery.next_attempt_at)).where(Delivery.status == PENDING)
    ).one()


def hold_channel(session: Session, channel: str, until: datetime) -> int:
    """Make every pending delivery of `channel` wait until at least `until`.

    A channel found down is retried as a whole: its deliveries become due together and
    go out oldest first, instead of each on its own jittered backoff. Returns how many
    deliveries were held back.
    """
    rows = session.exec(
        select(Delivery).where(
            Delivery.channel == channel,
            Delivery.status == PENDING,
            col(Delivery.next_attempt_at) < until,
        )
    ).all()
    for row in rows:
        row.next_attempt_at = until
    return len(rows)
