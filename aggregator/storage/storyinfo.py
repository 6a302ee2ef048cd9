"""Reading one story back for people: its sources and the alerts it caused.

Responsible for `story_detail`, behind `aggregator stories show ID`: the story (resolved
to the story it was merged into, if it was), every entry of it and of the stories merged
into it (feed, link, first seen), and every delivery of every match on the group.
Converts rows to the frozen dataclasses below. Must not write anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from aggregator.storage.clusters import group_ids, root_of
from aggregator.storage.models import Delivery, Entry, Feed, Match, Story


@dataclass(frozen=True, slots=True)
class SourceRow:
    feed: str
    url: str | None
    title: str
    first_seen: datetime


@dataclass(frozen=True, slots=True)
class AlertRow:
    watchlist: str
    terms: tuple[str, ...]
    channel: str
    status: str
    attempts: int
    created_at: datetime
    delivered_at: datetime | None
    delivery_id: str
    story_id: int  # the story the match was made on (a merged one, or the root)


@dataclass(frozen=True, slots=True)
class StoryDetail:
    id: int
    asked: int  # the id the user gave (a story merged into `id`, or `id` itself)
    title: str
    url: str | None
    feed: str
    published: datetime | None
    created_at: datetime
    merged: tuple[int, ...]  # stories merged into this one
    sources: tuple[SourceRow, ...]
    alerts: tuple[AlertRow, ...]


def story_detail(session: Session, story_id: int) -> StoryDetail | None:
    """The story `story_id` belongs to, with its sources and alerts; None if unknown."""
    if session.get(Story, story_id) is None:
        return None
    root = root_of(session, story_id)
    story = session.get_one(Story, root)
    feed = session.get_one(Feed, story.feed_id)
    group = group_ids(session, root)
    sources = session.exec(
        select(Feed.name, Entry.link, Entry.title, Entry.first_seen_at)
        .join(Feed, col(Feed.id) == col(Entry.feed_id))
        .where(col(Entry.story_id).in_(group))
        .order_by(col(Entry.first_seen_at), col(Entry.id))
    ).all()
    alerts = session.exec(
        select(Match, Delivery)
        .join(Delivery, col(Delivery.match_id) == col(Match.id))
        .where(col(Match.story_id).in_(group))
        .order_by(col(Delivery.created_at), col(Match.watchlist), col(Delivery.channel))
    ).all()
    return StoryDetail(
        id=root,
        asked=story_id,
        title=story.title,
        url=story.url,
        feed=feed.name,
        published=story.published,
        created_at=story.created_at,
        merged=tuple(sorted(i for i in group if i != root)),
        sources=tuple(SourceRow(f, u, t, s) for f, u, t, s in sources),
        alerts=tuple(
            AlertRow(
                m.watchlist,
                tuple(m.terms),
                d.channel,
                d.status,
                d.attempts,
                d.created_at,
                d.delivered_at,
                d.id,
                m.story_id,
            )
            for m, d in alerts
        ),
    )
