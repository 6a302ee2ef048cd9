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

from aggregator.dedup import DedupPolicy
from aggregator.storage import outbox
from aggregator.storage.entries import diff_entries, insert_new, update_changed
from aggregator.storage.stories import story_ids
from aggregator.types import EntryData, FeedState, Fingerprint, Route

log = logging.getLogger(__name__)


def ingest(
    session: Session,
    feed: FeedState,
    entries: Sequence[EntryData],
    routes: Mapping[str, Sequence[Route]],
    now: datetime,
    fingerprints: Mapping[str, Fingerprint] | None = None,
    policy: DedupPolicy | None = None,
) -> tuple[int, int, int]:
    """Store entries and record new matches; returns (new, updated, matches recorded).

    `fingerprints` (by entry key, from the parse workers) let new entries join the story
    of a near-identical text from another feed; without them only URLs cluster."""
    diff = diff_entries(session, feed.id, entries)
    if not diff.new and not diff.changed:
        return 0, 0, 0
    stories = story_ids(session, feed.id, diff.new, diff.changed, now, fingerprints, policy)
    stored = insert_new(session, feed.id, diff.new, stories, now)
    stored += update_changed(session, diff.changed, stories, now)
    recorded = 0
    for item in stored:
        story_id = stories.get(item.data.entry_key)
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
