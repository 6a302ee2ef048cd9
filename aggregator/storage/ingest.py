"""One feed's poll result into the database: entries, stories, matches and their deliveries.

Everything here runs inside the caller's single transaction, which is what makes the
outbox transactional: a match is never stored without its deliveries, nor an entry
without the matches it produced. Decisions (what matched, which channels) were made
before, by pure code; this module only writes them. Never commits.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlmodel import Session

from aggregator.storage import outbox
from aggregator.storage.entries import (
    EntryDiff,
    StoredEntry,
    diff_entries,
    insert_new,
    update_changed,
)
from aggregator.storage.stories import story_ids
from aggregator.types import EntryData, FeedState, Route

log = logging.getLogger(__name__)


def ingest(
    session: Session,
    feed: FeedState,
    entries: Sequence[EntryData],
    routes: Mapping[str, Sequence[Route]],
    now: datetime,
) -> tuple[int, int, int]:
    """Store entries and record new matches; returns (new, updated, matches recorded)."""
    diff = diff_entries(session, feed.id, entries)
    if not diff.new and not diff.changed:
        return 0, 0, 0
    stories = story_ids(session, feed.id, diff.new, [d for _, d in diff.changed], now)
    stored = insert_new(session, feed.id, diff.new, stories, now)
    stored += update_changed(session, diff.changed, stories, now)
    recorded = 0
    for item in stored:
        story_id = stories.get(item.data.entry_key) or item_story(diff, item)
        if story_id is None:
            continue
        for route in routes.get(item.data.entry_key, ()):
            ids = outbox.record_match(
                session,
                story_id=story_id,
                entry_id=item.id,
                match=route.match,
                channels=route.channels,
                now=now,
            )
            if ids:
                recorded += 1
                log.info(
                    "feed %s: watchlist %s matched story %s (%s); queued %s",
                    feed.name,
                    route.match.watchlist,
                    story_id,
                    ", ".join(route.match.terms),
                    ", ".join(ids),
                )
    new = sum(1 for s in stored if not s.is_update)
    return new, len(stored) - new, recorded


def item_story(diff: EntryDiff, item: StoredEntry) -> int | None:
    """The story a changed entry without a canonical URL already belongs to."""
    for known, data in diff.changed:
        if data.entry_key == item.data.entry_key:
            return known.story_id
    return None
