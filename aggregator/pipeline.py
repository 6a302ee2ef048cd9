"""Poll one batch of feeds: fetch -> parse/normalize/match -> store stories, matches, outbox.

The one place where network and database meet. Fetches run concurrently on one httpx
client, bounded globally and per host, and slowed by backpressure when parsing and
storing fall behind (gate.py); the CPU stage runs in a process pool so every
core parses, each body under a deadline (parsepool.py); each feed's writes are one short
transaction on a single database thread, opened only after the network and the parser
are done. A failing feed becomes a recorded error on that feed and never stops the
others.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TypeVar

import httpx
from sqlmodel import Session

from aggregator.clock import utcnow
from aggregator.dedup import DedupPolicy
from aggregator.errors import AggregatorError, FetchError, ParseError
from aggregator.fetch import FetchLimits, fetch_feed, make_client, redact_url
from aggregator.gate import PollGate
from aggregator.hints import parse_retry_after, server_hint
from aggregator.parsepool import ParsePool
from aggregator.process import BodyTask, Processed
from aggregator.schedule import FeedSituation, PollPolicy, next_poll_at
from aggregator.settings import Settings
from aggregator.storage import feeds as feed_store
from aggregator.storage.db import Database
from aggregator.storage.ingest import ingest
from aggregator.storage.writer import BatchWriter
from aggregator.types import FeedOutcome, FeedState, FetchResult, PollSummary

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


@dataclass
class Poller:
    """Polls feeds for one settings snapshot; reusable across polls of a daemon.

    `workers=0` parses in a thread of this process (tests, tiny setups).
    """

    settings: Settings
    db: Database
    clock: Callable[[], datetime] = utcnow
    workers: int | None = None
    db_pool: Executor = field(default_factory=lambda: ThreadPoolExecutor(1, "db"))

    def __post_init__(self) -> None:
        polling = self.settings.polling
        self.policy = PollPolicy(
            polling.default_interval, polling.min_interval, polling.max_interval
        )
        self._configured = {f.name: f.interval for f in self.settings.feeds}
        self._tags = {f.name: f.tags for f in self.settings.feeds}
        self._urls = {f.name: f.url for f in self.settings.feeds}
        self.parse_pool = ParsePool(
            self.settings.watchlists,
            workers=self.workers,
            deadline=polling.parse_timeout.total_seconds(),
        )
        self.writer = BatchWriter(self.db, self.db_pool)
        dedup = self.settings.dedup
        self.dedup = DedupPolicy(window=dedup.window, similarity=dedup.similarity)
        self._seen: dict[int, frozenset[str]] = {}  # feed id -> its entry keys, last time

    def close(self) -> None:
        self.parse_pool.shutdown(wait=True, cancel_futures=True)
        self.db_pool.shutdown(wait=True)

    def reconcile(self) -> feed_store.ReconcileReport:
        # The database keeps the URL without its secrets (user:password@, token=...);
        # fetches take the configured URL by name (_with_secrets).
        configured = [
            feed_store.ConfiguredFeed(f.name, redact_url(f.url)) for f in self.settings.feeds
        ]
        with self.db.transaction() as session:
            return feed_store.reconcile_feeds(session, configured, self.clock())

    def active(self, names: Sequence[str] | None = None) -> list[FeedState]:
        with self.db.transaction() as session:
            return feed_store.active_feeds(session, names)

    def claim_due(self, owner: str, limit: int) -> list[FeedState]:
        """Lease due feeds to `owner`: the lease must outlast one poll of them."""
        lease = self.settings.polling.lease
        with self.db.transaction() as session:
            return feed_store.claim_due(
                session, now=self.clock(), owner=owner, lease=lease, limit=limit
            )

    def release(self, feeds: Sequence[FeedState], owner: str) -> None:
        with self.db.transaction() as session:
            feed_store.release(session, [f.id for f in feeds], owner)

    async def poll(self, feeds: Sequence[FeedState]) -> PollSummary:
        limits = fetch_limits(self.settings)
        polling = self.settings.polling
        gate = PollGate(polling.concurrency, polling.per_host_concurrency)
        # The writer is shared by every poll on this loop (a queue): closing it here would
        # strand the writes of a poll still running beside this one.
        async with make_client(limits) as client:
            outcomes = await asyncio.gather(
                *(self._poll_one(client, limits, gate, feed) for feed in feeds)
            )
        return PollSummary(tuple(outcomes))

    async def _poll_one(
        self, client: httpx.AsyncClient, limits: FetchLimits, gate: PollGate, feed: FeedState
    ) -> FeedOutcome:
        feed = self._with_secrets(feed)
        try:
            async with gate.fetching(feed.fetch_url):
                result = await fetch_feed(client, feed, limits)
                await gate.backlog.acquire()  # hold the fetch slot until there is room
            try:
                return await self._absorb(feed, result)
            finally:
                gate.backlog.release()
        except (FetchError, ParseError) as exc:
            return await self._fail(feed, exc)
        except AggregatorError as exc:
            log.error("feed %s: %s", feed.name, exc)
            return FeedOutcome(feed.name, "failed", error=str(exc))

    async def _absorb(self, feed: FeedState, result: FetchResult) -> FeedOutcome:
        """Parse and store one fetched body (or just the feed's state, when unchanged)."""
        body_hash = _digest(result.body)
        if result.not_modified or (body_hash is not None and body_hash == feed.body_hash):
            await self.writer.write(self._store(feed, result, None, body_hash))
            return FeedOutcome(feed.name, "not_modified")
        processed = await self.parse_pool.run(self._task(feed, result))
        new, updated, matches = await self.writer.write(
            self._store(feed, result, processed, body_hash)
        )
        self._seen[feed.id] = frozenset(e.entry_key for e in processed.entries)
        log.info(
            "feed %s: fetched, %d new, %d updated, %d matches", feed.name, new, updated, matches
        )
        return FeedOutcome(feed.name, "fetched", new, updated, matches=matches)

    def _with_secrets(self, feed: FeedState) -> FeedState:
        """`feed` with its configured URL, when the stored one is that URL redacted."""
        url = self._urls.get(feed.name)
        if url is None or url == feed.url or redact_url(url) != feed.url:
            return feed
        return replace(feed, url=url)

    def _task(self, feed: FeedState, result: FetchResult) -> BodyTask:
        assert result.body is not None
        tags = self._tags.get(feed.name, ())
        return BodyTask(
            result.body,
            redact_url(result.final_url),  # the base of relative links, which are stored
            result.content_type,
            tags,
            self.clock(),
            feed.name,
            self._seen.get(feed.id, frozenset()),
        )

    def _situation(
        self, feed: FeedState, result: FetchResult | None, processed: Processed | None
    ) -> FeedSituation:
        learned = processed.learned_interval if processed else feed.learned_interval
        hint = None
        if result is not None:
            ttl = processed.ttl if processed else None
            hint = server_hint(result.cache_control, result.expires, ttl, self.clock())
        return FeedSituation(
            configured_interval=self._configured.get(feed.name),
            learned_interval=timedelta(seconds=learned) if learned else None,
            server_hint=timedelta(seconds=hint) if hint else None,
        )

    def _store(
        self,
        feed: FeedState,
        result: FetchResult,
        processed: Processed | None,
        body_hash: str | None,
    ) -> Callable[[Session], tuple[int, int, int]]:
        """Entries, stories, matches, deliveries and feed state, written together."""
        now = self.clock()
        situation = self._situation(feed, result, processed)
        outcome = feed_store.FetchOutcome(
            status=result.status,
            etag=result.etag,
            last_modified=result.last_modified,
            next_poll_at=next_poll_at(situation, self.policy, now),
            # A move to a URL with secrets is not stored: the configured URL is kept.
            moved_to=result.final_url
            if result.permanent_redirect and redact_url(result.final_url) == result.final_url
            else None,
            body_hash=body_hash,
            learned_interval=int(processed.learned_interval)
            if processed and processed.learned_interval
            else None,
        )
        if outcome.moved_to:
            log.warning("feed %s moved permanently to %s", feed.name, redact_url(outcome.moved_to))

        def write(session: Session) -> tuple[int, int, int]:
            counts = (0, 0, 0)
            if processed is not None:
                counts = ingest(
                    session,
                    feed,
                    processed.entries,
                    processed.routes,
                    now,
                    processed.fingerprints,
                    self.dedup,
                )
            feed_store.record_success(session, feed.id, outcome, now)
            return counts

        return write

    async def _fail(self, feed: FeedState, exc: FetchError | ParseError) -> FeedOutcome:
        message = str(exc)
        log.warning("feed %s (%s): %s", feed.name, redact_url(feed.fetch_url), message)
        await self.writer.write(self._record_failure(feed, exc))
        return FeedOutcome(feed.name, "failed", error=message)

    def _record_failure(
        self, feed: FeedState, exc: FetchError | ParseError
    ) -> Callable[[Session], None]:
        now = self.clock()
        status = exc.status if isinstance(exc, FetchError) else None
        wait = parse_retry_after(exc.retry_after, now) if isinstance(exc, FetchError) else None

        def write(session: Session) -> None:
            situation = FeedSituation(
                configured_interval=self._configured.get(feed.name),
                learned_interval=timedelta(seconds=feed.learned_interval)
                if feed.learned_interval
                else None,
                consecutive_errors=feed_store.consecutive_errors(session, feed.id) + 1,
                retry_after=timedelta(seconds=wait) if wait else None,
            )
            upcoming = next_poll_at(situation, self.policy, now)
            feed_store.record_failure(
                session, feed.id, error=str(exc), status=status, now=now, next_poll_at=upcoming
            )

        if status == 410:
            log.error("feed %s is gone (HTTP 410): no longer polled", feed.name)
        return write


def _digest(body: bytes | None) -> str | None:
    return hashlib.sha256(body).hexdigest() if body is not None else None
