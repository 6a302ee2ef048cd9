"""The CPU stage of a poll: one fetched body -> parsed, normalised and matched entries.

Runs in worker processes (every core parses; `parsepool.py` runs them under a deadline)
or inline; both go through `process_body`, from which only ParseError escapes. Each
worker compiles the watchlists once, in its initializer, so a task carries only the
body; the initializer also makes a worker exit when the process owning its pool dies.
Pure with respect to the outside world: no network, no database.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from aggregator.errors import ParseError
from aggregator.fingerprint import feed_fingerprints
from aggregator.gctune import tune_gc
from aggregator.normalize import normalize_entry
from aggregator.parse import parse_feed
from aggregator.schedule import learned_interval
from aggregator.settings import WatchlistSettings
from aggregator.types import EntryData, Fingerprint, ParsedFeed, Positional, Route
from aggregator.watch import WatchRules

_rules: WatchRules | None = None


def init_worker(watchlists: Sequence[WatchlistSettings], parent: int | None = None) -> None:
    """Process-pool initializer: compile the watchlists once per worker, and set the
    worker's collector policy (aggregator.gctune).

    With `parent` (the pid of the process that owns the pool), the worker also exits
    within a second of that process dying: a worker of a SIGKILLed daemon would
    otherwise wait on its task queue forever (it holds both ends of the pipe), and keep
    the fork server alive with it.
    """
    global _rules
    _rules = WatchRules(watchlists)
    if parent is not None:
        tune_gc()  # a worker process of our own: its collector policy is ours to set
        threading.Thread(
            target=_exit_with, args=(parent,), name="orphan-watch", daemon=True
        ).start()


def _exit_with(parent: int) -> None:
    while True:
        time.sleep(1.0)
        try:
            os.kill(parent, 0)
        except ProcessLookupError:
            os._exit(0)
        except OSError:
            pass  # alive, but not ours to signal


@dataclass(frozen=True, slots=True)
class BodyTask:
    body: bytes
    url: str
    content_type: str | None
    feed_tags: tuple[str, ...]
    now: datetime
    feed_name: str = ""  # what `feed:` query terms match
    # Entry keys this feed had last time: not new, so not worth a fingerprint.
    seen: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Processed(Positional):
    entries: list[EntryData]
    routes: dict[str, list[Route]] = field(default_factory=dict)  # by entry key
    ttl: str | None = None
    learned_interval: float | None = None  # seconds
    warning: str | None = None
    # Text fingerprints for story clustering, by entry key (short texts have none).
    fingerprints: dict[str, Fingerprint] = field(default_factory=dict)


def process_body(task: BodyTask, rules: WatchRules | None = None) -> Processed:
    """Parse, normalise and match one body; ParseError when it holds no feed.

    Nothing else leaves: an unexpected exception (a bug meeting a hostile body, or a
    MemoryError) becomes ParseError("internal error ..."), so it is recorded on that
    feed and never takes the poll down. Tests over the corpus look for that text.
    """
    try:
        return _process(task, rules or _rules)
    except ParseError:
        raise
    except Exception as exc:
        raise ParseError(f"internal error: {exc.__class__.__name__}: {str(exc)[:200]}") from None


def _process(task: BodyTask, rules: WatchRules | None) -> Processed:
    parsed = parse_feed(task.body, url=task.url, content_type=task.content_type)
    return process_parsed(parsed, task, rules)


def process_parsed(parsed: ParsedFeed, task: BodyTask, rules: WatchRules | None) -> Processed:
    """Everything after parsing: normalise, match, learn the interval, fingerprint."""
    entries = [normalize_entry(e, feed_url=task.url) for e in parsed.entries]
    routes: dict[str, list[Route]] = {}
    if rules is not None:
        for entry in entries:
            found = rules.routes(entry, task.feed_tags, task.feed_name)
            if found:
                routes.setdefault(entry.entry_key, found)
    learned = learned_interval((e.published or e.updated for e in entries), task.now)
    return Processed(
        entries=entries,
        routes=routes,
        ttl=parsed.ttl,
        learned_interval=learned.total_seconds() if learned is not None else None,
        fingerprints=feed_fingerprints(entries, skip=task.seen),
        warning=parsed.warning,
    )
