#!/usr/bin/env python3
"""Story clustering benchmark: pairwise precision and recall, and the cost per entry.

1. Quality. Replays the labelled set of benchmarks/dedup_corpus.py (syndicated copies
   and look-alike distinct stories, one feed per outlet) through the real storage path,
   in arrival order: each arrival is one poll of its outlet's feed document (its latest
   20 entries), fingerprinted as the parse workers do it (`feed_fingerprints`) and
   stored with `storage.ingest.ingest` at the arrival time. Then compares the stories
   the entries ended in with the labels: pairwise precision (pairs put together that
   belong together) and recall (pairs that belong together and were put together).
2. Cost. The same replay on top of a stored history of --history stories (default
   1,000,000: story rows with signatures and 20 LSH band rows each, none pruned, written
   straight into the SQLite file), timing the clustering step (`stories.story_ids`:
   URL owners, band lookups, verification, merges, story and band inserts) per new
   entry, next to the same replay on an empty database. Also times fingerprinting (the
   worker's share) per entry.

  python benchmarks/dedup.py [--history 1000000] [--seed 2026] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aggregator import fingerprint
from aggregator.dedup import DedupPolicy
from aggregator.normalize import normalize_entry
from aggregator.storage import feeds as feed_store
from aggregator.storage import ingest as ingest_module
from aggregator.storage import stories
from aggregator.storage.db import Database
from aggregator.types import EntryData, FeedState, ParsedEntry
from benchmarks.dedup_corpus import T0, LabelledEntry, labelled_set

DOCUMENT = 20  # entries in a feed document
TARGETS = {"precision": 0.99, "recall": 0.95, "ms_per_entry": 1.0}


def to_entry(item: LabelledEntry) -> EntryData:
    parsed = ParsedEntry(item.guid, item.link, item.title, None, item.html, None, (), None)
    return normalize_entry(parsed, feed_url=f"https://{item.feed}.example/feed.xml")


@dataclass
class Replay:
    stories: dict[str, int]  # guid -> story id (root)
    clustering: float  # seconds inside stories.story_ids
    entries: int  # new entries placed


def _timed(fn: Callable[..., Any], spent: list[float]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[0] += time.perf_counter() - start

    return wrapper


def replay(db: Database, items: Sequence[LabelledEntry], policy: DedupPolicy) -> Replay:
    """Feed every labelled entry through `ingest`, one poll of its outlet per arrival."""
    outlets = sorted({i.feed for i in items})
    with db.transaction() as session:
        configured = [feed_store.ConfiguredFeed(n, f"https://{n}.example/feed") for n in outlets]
        feed_store.reconcile_feeds(session, configured, T0)
        feeds = {f.name: f for f in feed_store.active_feeds(session)}
    documents: dict[str, list[EntryData]] = defaultdict(list)
    spent = [0.0]
    namespace = vars(ingest_module)  # time the clustering step where ingest calls it
    namespace["story_ids"] = _timed(stories.story_ids, spent)
    try:
        for item in items:
            document = documents[item.feed]
            document.insert(0, to_entry(item))
            del document[DOCUMENT:]
            prints = fingerprint.feed_fingerprints(document)
            with db.transaction() as session:
                feed: FeedState = feeds[item.feed]
                ingest_module.ingest(session, feed, document, {}, item.arrival, prints, policy)
    finally:
        namespace["story_ids"] = stories.story_ids
    with db.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT e.entry_key, coalesce(s.merged_into, s.id) FROM entries e "
            "JOIN stories s ON s.id = e.story_id"
        ).all()
    return Replay({str(k): int(s) for k, s in rows}, spent[0], len(items))


def pairwise(truth: Sequence[str], predicted: Sequence[int]) -> tuple[float, float, int, int]:
    """(precision, recall, false pairs, missed pairs) over all pairs of entries."""

    def pairs(counter: Counter[Any]) -> int:
        return sum(n * (n - 1) // 2 for n in counter.values())

    together = pairs(Counter(zip(truth, predicted, strict=True)))
    said, true = pairs(Counter(predicted)), pairs(Counter(truth))
    precision = together / said if said else 1.0
    recall = together / true if true else 1.0
    return precision, recall, said - together, true - together


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def _sorted_keys(count: int, rng: random.Random) -> Iterator[int]:
    """`count` random signed 64-bit keys in ascending order (append-only b-tree inserts)."""
    step = (1 << 64) / count
    for i in range(count):
        yield int(-(1 << 63) + i * step + rng.random() * step)


def fill_history(path: Path, stories: int, start: datetime, end: datetime, seed: int) -> None:
    """`stories` stories (signatures, BANDS band rows each) created between start and end."""
    rng = random.Random(seed)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=OFF")  # a bulk load; the database is WAL again after
    conn.execute("PRAGMA synchronous=OFF")
    span = (end - start).total_seconds()
    conn.execute(
        "INSERT INTO feeds (name, url, consecutive_errors, created_at) "
        "VALUES ('history', 'https://history.example/feed', 0, ?)",
        (_stamp(start),),
    )
    feed_id = conn.execute("SELECT id FROM feeds WHERE name = 'history'").fetchone()[0]
    first = (conn.execute("SELECT coalesce(max(id), 0) FROM stories").fetchone()[0]) + 1
    times = [_stamp(start + timedelta(seconds=rng.random() * span)) for _ in range(stories)]
    conn.executemany(
        "INSERT INTO stories (id, title, feed_id, created_at, signature) VALUES (?, '', ?, ?, ?)",
        (
            (first + i, feed_id, times[i], rng.randbytes(4 * fingerprint.SKETCH))
            for i in range(stories)
        ),
    )
    bands = stories * fingerprint.BANDS
    conn.executemany(
        "INSERT INTO story_bands (band_key, story_id) VALUES (?, ?)",
        ((key, first + rng.randrange(stories)) for key in _sorted_keys(bands, rng)),
    )
    conn.commit()
    conn.execute("ANALYZE")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.close()


def _fingerprint_cost(entries: Sequence[EntryData]) -> float:
    start = time.perf_counter()
    for i in range(0, len(entries), 40):
        fingerprint.feed_fingerprints(entries[i : i + 40])
    return (time.perf_counter() - start) / len(entries) * 1000


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--history", type=int, default=1_000_000, metavar="N")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--keep", metavar="DIR", help="keep the databases in DIR")
    args = parser.parse_args(argv)
    items = labelled_set(args.seed)
    truth = Counter(i.cluster for i in items)
    print(
        f"labelled set (seed {args.seed}): {len(items)} entries, {len(truth)} stories, "
        f"{sum(1 for c in truth if c.startswith('s'))} syndicated 1-8 times, "
        f"{sum(n * (n - 1) // 2 for n in truth.values())} true pairs"
    )
    policy = DedupPolicy()
    print(
        f"fingerprinting (parse workers): {_fingerprint_cost([to_entry(i) for i in items]):.3f}"
        " ms/entry"
    )
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(args.keep or tmp)
        base.mkdir(parents=True, exist_ok=True)
        empty = Database(f"sqlite:///{base / 'empty.db'}")
        empty.migrate()
        run = replay(empty, items, policy)
        empty.dispose()
        precision, recall, false, missed = pairwise(
            [i.cluster for i in items], [run.stories[i.guid] for i in items]
        )
        print(f"precision {precision:.4f} (target >= {TARGETS['precision']}, {false} false pairs)")
        print(f"recall    {recall:.4f} (target >= {TARGETS['recall']}, {missed} missed pairs)")
        print(f"clustering, empty database: {run.clustering / run.entries * 1000:.3f} ms/entry")
        if args.history:
            url = f"sqlite:///{base / 'history.db'}"
            big = Database(url)
            big.migrate()
            big.dispose()
            start = time.perf_counter()
            end = max(i.arrival for i in items)
            fill_history(base / "history.db", args.history, T0 - policy.window, end, args.seed)
            size = os.path.getsize(base / "history.db") / 2**20
            print(
                f"history: {args.history:,} stories, {args.history * fingerprint.BANDS:,} "
                f"band rows, {size:,.0f} MiB, written in {time.perf_counter() - start:.0f} s"
            )
            big = Database(url)
            run = replay(big, items, policy)
            big.dispose()
            per_entry = run.clustering / run.entries * 1000
            print(
                f"clustering at {args.history:,} stored stories: {per_entry:.3f} ms/entry "
                f"(target < {TARGETS['ms_per_entry']})"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
