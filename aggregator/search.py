"""Backtests and search: a watchlist or a query over stored entries, newest first.

Responsible for running one compiled watchlist over history: the database's full-text
index proposes candidates (`prefilter.requirement` -> storage/search.py), the matcher
decides exactly, and the hits are counted the way alerts would be (once per story) or
listed newest first. Reads only: nothing is recorded and nothing is sent.

Must not: write to the database, deliver anything, or print (cli.py formats).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from aggregator.match.logic import WatchlistSpec, build_expression
from aggregator.match.matcher import Matcher
from aggregator.match.prefilter import requirement
from aggregator.storage import search as store
from aggregator.storage.db import Database
from aggregator.types import MatchResult

__all__ = ["BacktestReport", "Hit", "backtest", "hits", "search"]

PAGE = 2000


@dataclass(frozen=True, slots=True)
class Hit:
    """A stored entry the watchlist or query matches, and how."""

    row: store.SearchRow
    match: MatchResult


@dataclass
class BacktestReport:
    """What a watchlist would have done over the entries it was run on."""

    scanned: int = 0  # candidate entries the matcher looked at
    matched_entries: int = 0
    stories: int = 0  # alerts: one per story, whatever the number of sources
    per_feed: Counter[str] = field(default_factory=Counter)  # matching entries per feed
    sample: list[Hit] = field(default_factory=list)  # newest first, one per story


class _Run:
    def __init__(self, spec: WatchlistSpec) -> None:
        self.matcher = Matcher.compile([spec])  # ValueError (QueryError) if invalid
        self.requirement = requirement(build_expression(spec))
        self.scanned = 0

    def hits(
        self,
        db: Database,
        since: datetime | None,
        feeds: Collection[str] | None,
        by_id: bool = False,
    ) -> Iterator[Hit]:
        before: tuple[datetime, int] | None = None
        while True:
            with db.transaction() as session:
                rows = store.candidates(
                    session,
                    self.requirement,
                    since=since,
                    feeds=feeds,
                    before=before,
                    limit=PAGE,
                    by_id=by_id,
                )
            for row in rows:
                self.scanned += 1
                for match in self.matcher.match(row.fields()):
                    yield Hit(row, match)
            if len(rows) < PAGE:
                return
            before = (rows[-1].when, rows[-1].id)


def _cutoff(since: timedelta | None, now: datetime) -> datetime | None:
    return None if since is None else now - since


def hits(
    db: Database,
    spec: WatchlistSpec,
    *,
    since: timedelta | None,
    now: datetime,
    feeds: Collection[str] | None = None,
) -> Iterator[Hit]:
    """Every stored entry `spec` matches, newest first."""
    yield from _Run(spec).hits(db, _cutoff(since, now), feeds)


def backtest(
    db: Database,
    spec: WatchlistSpec,
    *,
    since: timedelta | None,
    now: datetime,
    feeds: Collection[str] | None = None,
    sample: int = 10,
) -> BacktestReport:
    """What `spec` would have alerted on among the stored entries (of `feeds`, if given)."""
    run = _Run(spec)
    report = BacktestReport()
    newest: dict[tuple[str, int], Hit] = {}  # story -> its newest matching entry
    for hit in run.hits(db, _cutoff(since, now), feeds, by_id=True):
        report.matched_entries += 1
        report.per_feed[hit.row.feed] += 1
        story = ("story", hit.row.story_id) if hit.row.story_id else ("entry", hit.row.id)
        known = newest.get(story)
        if known is None or (hit.row.when, hit.row.id) > (known.row.when, known.row.id):
            newest[story] = hit
    report.stories = len(newest)
    report.scanned = run.scanned
    ordered = sorted(newest.values(), key=lambda h: (h.row.when, h.row.id), reverse=True)
    report.sample = ordered[:sample]
    return report


def search(
    db: Database, query: str, *, since: timedelta | None, now: datetime, limit: int
) -> list[Hit]:
    """The `limit` newest entries that `query` matches."""
    found: list[Hit] = []
    if limit <= 0:
        return found
    for hit in hits(db, WatchlistSpec("search", query=query), since=since, now=now):
        found.append(hit)
        if len(found) >= limit:
            break
    return found
