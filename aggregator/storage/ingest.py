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
from aggregator.storage.entries import store_entries
from aggregator.storage.stories import assign_stories
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
    stored = store_entries(session, feed.id, entries, now)
    if not stored:
        return 0, 0, 0
    stories = assign_stories(session, feed.id, stored, now)
    recorded = 0
    for item in stored:
        story_id = stories.get(item.id)
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
