"""Retention: delete old entries, stories and index rows, leaving tombstones behind.

Responsible for `prune`: entries not changed for `older_than` are deleted, each leaving a
tombstone (feed, entry key) that `entries.diff_entries` treats as known and unchanged,
so an entry still in its feed never comes back as new and never alerts again. A story
goes when it is that old and no entry is left in it or in the stories merged into it,
together with those stories and their matches and deliveries (foreign keys cascade),
unless one of those deliveries is still pending and younger than `keep_pending` (the
outbox would lose an alert). LSH band rows older than the dedup window are deleted:
they can never be candidates again.

Works in batches, one short transaction each, so writers (the poller, other instances)
are never held up for long. Must not decide ages itself: the caller passes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, delete, exists, func, or_, select
from sqlmodel import Session

from aggregator.settings import Settings
from aggregator.storage.db import Database
from aggregator.storage.models import Delivery, Entry, EntryTombstone, Match, Story, StoryBand
from aggregator.storage.upsert import insert_ignoring_conflicts

BATCH = 1000
PENDING = "pending"
_E = Entry.__table__  # type: ignore[attr-defined]
_S = Story.__table__  # type: ignore[attr-defined]
_M = Match.__table__  # type: ignore[attr-defined]
_D = Delivery.__table__  # type: ignore[attr-defined]
_B = StoryBand.__table__  # type: ignore[attr-defined]
_T = EntryTombstone.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class PruneReport:
    entries: int  # deleted, each leaving a tombstone
    stories: int  # deleted roots (the stories merged into them went along)
    bands: int  # LSH index rows past the dedup window


def _prune_entries(session: Session, cutoff: datetime, now: datetime, batch: int) -> int:
    rows = session.execute(
        select(_E.c.id, _E.c.feed_id, _E.c.entry_key)
        .where(_E.c.last_changed_at < cutoff)
        .order_by(_E.c.id)
        .limit(batch)
    ).all()
    if not rows:
        return 0
    tombstones = [{"feed_id": f, "entry_key": k, "pruned_at": now} for _, f, k in rows]
    session.execute(insert_ignoring_conflicts(session, _T), tombstones)
    session.execute(delete(_E).where(_E.c.id.in_([i for i, _, _ in rows])))
    return len(rows)


def _prunable_stories(cutoff: datetime, young: datetime, batch: int) -> Select[tuple[int]]:
    """Roots created before `cutoff` with no entry and no young pending delivery left in
    their group (the root and the stories merged into it)."""
    root, member = _S.alias("root"), _S.alias("member")
    in_group = or_(member.c.id == root.c.id, member.c.merged_into == root.c.id)
    has_entries = exists(
        select(1).select_from(member.join(_E, _E.c.story_id == member.c.id)).where(in_group)
    )
    has_pending = exists(
        select(1)
        .select_from(member.join(_M, _M.c.story_id == member.c.id))
        .join(_D, _D.c.match_id == _M.c.id)
        .where(in_group, _D.c.status == PENDING, _D.c.created_at >= young)
    )
    return (
        select(root.c.id)
        .where(root.c.merged_into.is_(None), root.c.created_at < cutoff)
        .where(~has_entries, ~has_pending)
        .order_by(root.c.id)
        .limit(batch)
    )


def _prune_stories(session: Session, cutoff: datetime, young: datetime, batch: int) -> int:
    ids = [int(i) for (i,) in session.execute(_prunable_stories(cutoff, young, batch))]
    if ids:  # the merged-into foreign key cascades to the group, matches and deliveries
        session.execute(delete(_S).where(_S.c.id.in_(ids)))
    return len(ids)


def _prune_bands(session: Session, cutoff: datetime) -> int:
    """Rows of stories created before `cutoff`: below the oldest story id inside the window
    every story is older (ids only grow), so one comparison per row finds them."""
    first = session.execute(select(func.min(_S.c.id)).where(_S.c.created_at >= cutoff))
    boundary = first.scalar()
    stale = delete(_B) if boundary is None else delete(_B).where(_B.c.story_id < boundary)
    return int(session.connection().execute(stale).rowcount or 0)


def prune(
    db: Database,
    *,
    older_than: timedelta,
    now: datetime,
    window: timedelta,
    keep_pending: timedelta,
    batch: int = BATCH,
) -> PruneReport:
    """Delete what retention no longer keeps; see the module docstring."""
    cutoff, young = now - older_than, now - keep_pending
    entries = stories = 0
    while True:
        with db.transaction() as session:
            done = _prune_entries(session, cutoff, now, batch)
        entries += done
        if done < batch:
            break
    while True:
        with db.transaction() as session:
            done = _prune_stories(session, cutoff, young, batch)
        stories += done
        if done < batch:
            break
    with db.transaction() as session:
        bands = _prune_bands(session, now - window)
    return PruneReport(entries, stories, bands)


def prune_by_settings(
    db: Database, settings: Settings, now: datetime, older_than: timedelta | None = None
) -> PruneReport:
    """`prune` with the configured ages: [retention] max_age (unless `older_than` is
    given), the [dedup] window, and [alerts] max_age for pending deliveries."""
    return prune(
        db,
        older_than=older_than or settings.retention.max_age,
        now=now,
        window=settings.dedup.window,
        keep_pending=settings.alerts.max_age,
    )
