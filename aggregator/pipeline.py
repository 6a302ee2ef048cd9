"""Poll one batch of feeds: fetch -> parse -> normalize -> store, feed by feed, concurrently.

The one place where network and database meet. Fetches run concurrently on one httpx
client; parsing runs in a worker pool; every database write is one short transaction on
a single database thread, opened only after the network and the parser are done. A
failing feed becomes a recorded error on that feed and never stops the others.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import TypeVar

import httpx
from sqlmodel import Session

from aggregator.clock import utcnow
from aggregator.errors import AggregatorError, FetchError, ParseError
from aggregator.fetch import FetchLimits, fetch_feed, make_client, redact_url
from aggregator.normalize import normalize_entry
from aggregator.parse import parse_feed
from aggregator.schedule import ScheduleInput, next_poll_at
from aggregator.settings import Settings
from aggregator.storage import entries as entry_store
from aggregator.storage import feeds as feed_store
from aggregator.storage import outbox, stories
from aggregator.storage.db import Database
from aggregator.types import EntryData, FeedOutcome, FeedState, FetchResult, PollSummary
from aggregator.watch import WatchRules

log = logging.getLogger(__name__)
T = TypeVar("T")


def fetch_limits(settings: Settings) -> FetchLimits:
    http = settings.http
    return FetchLimits(
        total_timeout=http.timeout.total_seconds(),
        connect_timeout=http.connect_timeout.total_seconds(),
        max_body=http.max_body,
        max_redirects=http.max_redirects,
        allow_private_networks=http.allow_private_networks,
        user_agent=http.user_agent,
        max_connections=settings.polling.concurrency,
    )


def parse_and_normalize(result: FetchResult) -> list[EntryData]:
    """CPU-bound work for one body; runs in a worker, never on the event loop."""
    assert result.body is not None
    parsed = parse_feed(result.body, url=result.final_url, content_type=result.content_type)
    return [normalize_entry(e, feed_url=result.final_url) for e in parsed.entries]


@dataclass
class Poller:
    """Polls feeds for one settings snapshot; reusable across polls of a daemon."""

    settings: Settings
    db: Database
    clock: Callable[[], datetime] = utcnow
    parse_pool: Executor = field(default_factory=lambda: ThreadPoolExecutor(2, "parse"))
    db_pool: Executor = field(default_factory=lambda: ThreadPoolExecutor(1, "db"))

    def __post_init__(self) -> None:
        default = self.settings.polling.default_interval
        self._intervals = {f.name: f.interval or default for f in self.settings.feeds}
        self._tags = {f.name: f.tags for f in self.settings.feeds}
        self.rules = WatchRules(self.settings.watchlists)

    def close(self) -> None:
        self.parse_pool.shutdown(wait=True, cancel_futures=True)
        self.db_pool.shutdown(wait=True)

    async def _in(self, pool: Executor, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(pool, fn)

    def _interval(self, name: str) -> timedelta:
        return self._intervals.get(name, self.settings.polling.default_interval)

    def reconcile(self) -> feed_store.ReconcileReport:
        configured = [feed_store.ConfiguredFeed(f.name, f.url) for f in self.settings.feeds]
        with self.db.transaction() as session:
            return feed_store.reconcile_feeds(session, configured, self.clock())

    def active(self, names: Sequence[str] | None = None) -> list[FeedState]:
        with self.db.transaction() as session:
            return feed_store.active_feeds(session, names)

    def due(self, limit: int) -> list[FeedState]:
        with self.db.transaction() as session:
            return feed_store.due_feeds(session, self.clock(), limit)

    async def poll(self, feeds: Sequence[FeedState]) -> PollSummary:
        limits = fetch_limits(self.settings)
        semaphore = asyncio.Semaphore(self.settings.polling.concurrency)
        async with make_client(limits) as client:
            outcomes = await asyncio.gather(
                *(self._poll_one(client, limits, semaphore, feed) for feed in feeds)
            )
        return PollSummary(tuple(outcomes))

    async def _poll_one(
        self,
        client: httpx.AsyncClient,
        limits: FetchLimits,
        semaphore: asyncio.Semaphore,
        feed: FeedState,
    ) -> FeedOutcome:
        try:
            async with semaphore:
                result = await fetch_feed(client, feed, limits)
            if result.not_modified:
                await self._in(self.db_pool, partial(self._store, feed, result, []))
                return FeedOutcome(feed.name, "not_modified")
            entries = await self._in(self.parse_pool, partial(parse_and_normalize, result))
            stored, matches = await self._in(
                self.db_pool, partial(self._store, feed, result, entries)
            )
        except (FetchError, ParseError) as exc:
            return await self._fail(feed, exc)
        except AggregatorError as exc:
            log.error("feed %s: %s", feed.name, exc)
            return FeedOutcome(feed.name, "failed", error=str(exc))
        new = sum(1 for s in stored if not s.is_update)
        log.info(
            "feed %s: fetched, %d new, %d updated, %d matches",
            feed.name,
            new,
            len(stored) - new,
            matches,
        )
        return FeedOutcome(feed.name, "fetched", new, len(stored) - new, matches=matches)

    def _store(
        self, feed: FeedState, result: FetchResult, entries: list[EntryData]
    ) -> tuple[list[entry_store.StoredEntry], int]:
        """Entries, stories, matches and their deliveries: one transaction (the outbox)."""
        now = self.clock()
        upcoming = next_poll_at(ScheduleInput(self._interval(feed.name)), now)
        with self.db.transaction() as session:
            stored = entry_store.store_entries(session, feed.id, entries, now)
            matches = sum(self._match(session, feed, item, now) for item in stored)
            feed_store.record_success(
                session,
                feed.id,
                status=result.status,
                etag=result.etag,
                last_modified=result.last_modified,
                now=now,
                next_poll_at=upcoming,
            )
            return stored, matches

    def _match(
        self, session: Session, feed: FeedState, item: entry_store.StoredEntry, now: datetime
    ) -> int:
        story_id = stories.assign_story(session, item.id, feed.id, item.data, now)
        recorded = 0
        for route in self.rules.routes(item.data, self._tags.get(feed.name, ())):
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
        return recorded

    async def _fail(self, feed: FeedState, exc: FetchError | ParseError) -> FeedOutcome:
        message = str(exc)
        status = exc.status if isinstance(exc, FetchError) else None
        log.warning("feed %s (%s): %s", feed.name, redact_url(feed.url), message)
        await self._in(self.db_pool, partial(self._record_failure, feed, message, status))
        return FeedOutcome(feed.name, "failed", error=message)

    def _record_failure(self, feed: FeedState, message: str, status: int | None) -> None:
        now = self.clock()
        with self.db.transaction() as session:
            errors = feed_store.consecutive_errors(session, feed.id) + 1
            upcoming = next_poll_at(ScheduleInput(self._interval(feed.name), errors), now)
            feed_store.record_failure(
                session, feed.id, error=message, status=status, now=now, next_poll_at=upcoming
            )
