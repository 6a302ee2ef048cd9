"""Queries on stories: find or create the story of each entry, and list a story's sources.

A story is, for now, the set of entries sharing a canonical URL; an entry without one is
a story of its own. Concurrent creation of the same story is made harmless by the unique
canonical URL (insert ... on conflict do nothing, then read back). Work is batched per
feed: one executemany insert and one lookup for all of a poll's entries. Never commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlmodel import Session, col, select

from aggregator.storage.models import Entry, Feed, Story
from aggregator.storage.upsert import insert_ignoring_conflicts
from aggregator.types import EntryData, StorySource

_STORIES = Story.__table__  # type: ignore[attr-defined]
_CHUNK = 500


def _story_values(data: EntryData, feed_id: int, now: datetime) -> dict[str, Any]:
    return {
        "canonical_url": data.canonical_url,
        "title": data.title,
        "url": data.link,
        "feed_id": feed_id,
        "published": data.published,
        "created_at": now,
    }


def _by_url(
    session: Session, entries: Sequence[EntryData], feed_id: int, now: datetime
) -> dict[str, int]:
    first: dict[str, dict[str, Any]] = {}
    for data in entries:
        first.setdefault(str(data.canonical_url), _story_values(data, feed_id, now))
    urls = list(first)
    ids: dict[str, int] = {}
    stmt = insert_ignoring_conflicts(session, _STORIES)
    for start in range(0, len(urls), _CHUNK):
        chunk = urls[start : start + _CHUNK]
        session.execute(stmt, [first[u] for u in chunk])
        query = select(Story.canonical_url, Story.id).where(col(Story.canonical_url).in_(chunk))
        ids.update((str(url), int(sid or 0)) for url, sid in session.exec(query))
    return {d.entry_key: ids[str(d.canonical_url)] for d in entries}


def _lone(
    session: Session, entries: Sequence[EntryData], feed_id: int, now: datetime
) -> dict[str, int]:
    if not entries:
        return {}
    stmt = insert(_STORIES).returning(_STORIES.c.id, sort_by_parameter_order=True)
    rows = session.execute(stmt, [_story_values(d, feed_id, now) for d in entries])
    return {d.entry_key: int(row[0]) for d, row in zip(entries, rows, strict=True)}


def story_ids(
    session: Session,
    feed_id: int,
    new: Sequence[EntryData],
    changed: Sequence[EntryData],
    now: datetime,
) -> dict[str, int]:
    """entry key -> story id: by canonical URL, or a new story of its own for a new entry
    without one (a changed entry without one keeps the story it has)."""
    with_url = [d for d in (*new, *changed) if d.canonical_url]
    lone = [d for d in new if not d.canonical_url]
    return {**_by_url(session, with_url, feed_id, now), **_lone(session, lone, feed_id, now)}


def story_sources(session: Session, story_id: int) -> list[StorySource]:
    """Every feed that carried the story, first seen first."""
    rows = session.exec(
        select(Feed.name, Entry.link)
        .join(Feed, col(Feed.id) == col(Entry.feed_id))
        .where(Entry.story_id == story_id)
        .order_by(col(Entry.first_seen_at), col(Entry.id))
    ).all()
    return [StorySource(feed=name, url=link) for name, link in rows]
