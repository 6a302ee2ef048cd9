"""Queries on stories: attach stored entries to their stories, and list a story's sources.

A story is, for now, the set of entries sharing a canonical URL; an entry without one is
a story of its own. Concurrent creation of the same story is made harmless by the unique
canonical URL (insert ... on conflict do nothing, then read back). Work is batched per
feed: one insert, one lookup and one update for all of a poll's entries. Never commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, update
from sqlmodel import Session, col, select

from aggregator.storage.entries import StoredEntry
from aggregator.storage.models import Entry, Feed, Story
from aggregator.storage.upsert import insert_ignoring_conflicts
from aggregator.types import StorySource

_STORIES = Story.__table__  # type: ignore[attr-defined]
_ENTRIES = Entry.__table__  # type: ignore[attr-defined]
_CHUNK = 500


def _story_values(item: StoredEntry, feed_id: int, now: datetime) -> dict[str, Any]:
    data = item.data
    return {
        "canonical_url": data.canonical_url,
        "title": data.title,
        "url": data.link,
        "feed_id": feed_id,
        "published": data.published,
        "created_at": now,
    }


def _by_url(
    session: Session, items: list[StoredEntry], feed_id: int, now: datetime
) -> dict[int, int]:
    first: dict[str, dict[str, Any]] = {}
    for item in items:
        first.setdefault(str(item.data.canonical_url), _story_values(item, feed_id, now))
    urls = list(first)
    ids: dict[str, int] = {}
    for start in range(0, len(urls), _CHUNK):
        chunk = urls[start : start + _CHUNK]
        session.execute(insert_ignoring_conflicts(session, _STORIES, [first[u] for u in chunk]))
        query = select(Story.canonical_url, Story.id).where(col(Story.canonical_url).in_(chunk))
        ids.update((str(url), int(sid or 0)) for url, sid in session.exec(query))
    return {item.id: ids[str(item.data.canonical_url)] for item in items}


def _lone(
    session: Session, items: list[StoredEntry], feed_id: int, now: datetime
) -> dict[int, int]:
    if not items:
        return {}
    stmt = insert(_STORIES).returning(_STORIES.c.id, sort_by_parameter_order=True)
    rows = session.execute(stmt, [_story_values(i, feed_id, now) for i in items])
    return {item.id: int(row[0]) for item, row in zip(items, rows, strict=True)}


def assign_stories(
    session: Session, feed_id: int, stored: Sequence[StoredEntry], now: datetime
) -> dict[int, int]:
    """entry id -> story id for every stored entry, creating stories for first sources."""
    with_url = [s for s in stored if s.data.canonical_url]
    lone = [s for s in stored if not s.data.canonical_url and not s.is_update]
    stories = {**_by_url(session, with_url, feed_id, now), **_lone(session, lone, feed_id, now)}
    if stories:
        stmt = update(_ENTRIES).where(_ENTRIES.c.id == bindparam("_id"))
        stmt = stmt.values(story_id=bindparam("_story"))
        params = [{"_id": e, "_story": s} for e, s in stories.items()]
        session.connection().execute(stmt, params)
    updated_lone = [s.id for s in stored if not s.data.canonical_url and s.is_update]
    if updated_lone:
        rows = session.exec(select(Entry.id, Entry.story_id).where(col(Entry.id).in_(updated_lone)))
        stories.update((int(e or 0), int(sid)) for e, sid in rows if sid is not None)
    return stories


def story_sources(session: Session, story_id: int) -> list[StorySource]:
    """Every feed that carried the story, first seen first."""
    rows = session.exec(
        select(Feed.name, Entry.link)
        .join(Feed, col(Feed.id) == col(Entry.feed_id))
        .where(Entry.story_id == story_id)
        .order_by(col(Entry.first_seen_at), col(Entry.id))
    ).all()
    return [StorySource(feed=name, url=link) for name, link in rows]
