"""Queries on stories: attach each stored entry to its story, and list a story's sources.

A story is, for now, the set of entries sharing a canonical URL; an entry without one is
a story of its own. Concurrent creation of the same story is made harmless by the unique
canonical URL (insert ... on conflict do nothing, then read back). Never commits.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from aggregator.storage.models import Entry, Feed, Story
from aggregator.storage.upsert import insert_ignoring_conflicts
from aggregator.types import EntryData, StorySource


def assign_story(
    session: Session, entry_id: int, feed_id: int, data: EntryData, now: datetime
) -> int:
    """The id of the entry's story, creating the story when it is the first source."""
    entry = session.get_one(Entry, entry_id)
    if entry.story_id is not None and entry.canonical_url == data.canonical_url:
        return entry.story_id
    values: dict[str, object] = {
        "title": data.title,
        "url": data.link,
        "feed_id": feed_id,
        "published": data.published,
        "created_at": now,
    }
    if data.canonical_url is None:
        story = Story(**values)  # type: ignore[arg-type]
        session.add(story)
        session.flush()
        assert story.id is not None
        story_id = story.id
    else:
        table = Story.__table__  # type: ignore[attr-defined]
        values["canonical_url"] = data.canonical_url
        session.execute(insert_ignoring_conflicts(session, table, values))
        found = session.exec(
            select(Story.id).where(Story.canonical_url == data.canonical_url)
        ).one()
        assert found is not None
        story_id = found
    entry.story_id = story_id
    session.flush()
    return story_id


def story_sources(session: Session, story_id: int) -> list[StorySource]:
    """Every feed that carried the story, first seen first."""
    rows = session.exec(
        select(Feed.name, Entry.link)
        .join(Feed, col(Feed.id) == col(Entry.feed_id))
        .where(Entry.story_id == story_id)
        .order_by(col(Entry.first_seen_at), col(Entry.id))
    ).all()
    return [StorySource(feed=name, url=link) for name, link in rows]
