"""The CPU stage of a poll: one fetched body -> parsed, normalised and matched entries.

Runs in worker processes (every core parses) or inline; both go through
`process_body`. Each worker compiles the watchlists once, in its initializer, so a task
carries only the body. Pure with respect to the outside world: no network, no database.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from aggregator.normalize import normalize_entry
from aggregator.parse import parse_feed
from aggregator.schedule import learned_interval
from aggregator.settings import WatchlistSettings
from aggregator.types import EntryData, Route
from aggregator.watch import WatchRules

_rules: WatchRules | None = None


def init_worker(watchlists: Sequence[WatchlistSettings]) -> None:
    """Process-pool initializer: compile the watchlists once per worker."""
    global _rules
    _rules = WatchRules(watchlists)


@dataclass(frozen=True, slots=True)
class BodyTask:
    body: bytes
    url: str
    content_type: str | None
    feed_tags: tuple[str, ...]
    now: datetime


@dataclass(frozen=True, slots=True)
class Processed:
    entries: list[EntryData]
    routes: dict[str, list[Route]] = field(default_factory=dict)  # by entry key
    ttl: str | None = None
    learned_interval: float | None = None  # seconds
    warning: str | None = None


def process_body(task: BodyTask, rules: WatchRules | None = None) -> Processed:
    """Parse, normalise and match one body; ParseError when it holds no feed."""
    rules = rules or _rules
    parsed = parse_feed(task.body, url=task.url, content_type=task.content_type)
    entries = [normalize_entry(e, feed_url=task.url) for e in parsed.entries]
    routes: dict[str, list[Route]] = {}
    if rules is not None:
        for entry in entries:
            found = rules.routes(entry, task.feed_tags)
            if found:
                routes.setdefault(entry.entry_key, found)
    learned = learned_interval((e.published or e.updated for e in entries), task.now)
    return Processed(
        entries=entries,
        routes=routes,
        ttl=parsed.ttl,
        learned_interval=learned.total_seconds() if learned is not None else None,
        warning=parsed.warning,
    )
