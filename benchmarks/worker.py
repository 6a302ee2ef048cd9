#!/usr/bin/env python3
"""The worker stage after parsing: per-stage cost, and a golden check of its output.

Runs `process.process_body` the way a parse worker does (watchlists compiled once into
`WatchRules`, then one body at a time) over the generated benchmark corpus and the
feedparser test corpus, and

* prints the mean milliseconds per feed of each stage: parsing, then normalising,
  matching, the learned interval and fingerprinting (timed by wrapping the functions
  `aggregator.process` calls), the rest of `process_parsed`, and pickling the result
  back (dumps + loads, as the pool does);
* `--save FILE` writes a golden file: per input, a hash of the repr of its `Processed`
  (or of its ParseError's text) and of its `ParsedFeed`;
* `--check FILE` compares with a golden file and exits 1 on any difference. A stored
  value that changes (content hash, fingerprint, highlight) fails here first. Inputs
  whose bytes changed since the file was saved are left out (and counted) with `--full`.

Parsing (feedparser, slow, and being replaced) is cached with `--cache FILE`: the stages
after it then run on the cached `ParsedFeed`s. `--full` parses again and also checks the
end-to-end `process_body` output (and that the parser's own output did not change).

  python benchmarks/worker.py --save /tmp/worker.golden --cache /tmp/worker.parsed
  python benchmarks/worker.py --check /tmp/worker.golden --cache /tmp/worker.parsed
  python benchmarks/worker.py --watchlists poll --cache /tmp/worker.parsed --limit 2000
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pickle
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aggregator import process
from aggregator.errors import ParseError
from aggregator.parse import parse_feed
from aggregator.settings import WatchlistSettings
from aggregator.types import ParsedFeed
from aggregator.watch import WatchRules

BENCH = Path("/tmp/bench/corpus-aggregator/feeds")
FEEDPARSER = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "feedparser-tests"
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
# Stages of `process.process_parsed`: the module-level names it calls (and methods of
# the rules, "rules."), wrapped to time them. Names that do not exist are skipped.
STAGES = {
    "normalize": ("normalize_entry", "entry_texts"),
    "match": ("rules.routes", "rules.scan"),
    "interval": ("learned_interval",),
    "fingerprint": ("feed_fingerprints",),
}

# The watchlist of benchmarks/poll.py: what a poll's figures include.
POLL_WATCHLISTS = (
    WatchlistSettings(
        "poll",
        any=("Yarmouk", "Yarmuk", "Damascus", "Aleppo", "UNRWA", "Red Crescent"),
        channels=("console",),
    ),
)
# For the golden check: more of the matcher's paths (NEAR, fields, prefixes, feed names,
# NOT, tag filters), and a watchlist that matches most entries, so highlights count.
WATCHLISTS = (
    WatchlistSettings(
        "syria",
        any=("Yarmouk", "Yarmuk", "Damascus", "Aleppo", "UNRWA", "Red Crescent", "اليرموك"),
        channels=("console",),
    ),
    WatchlistSettings(
        "query",
        any=(),
        channels=("console", "hook"),
        query="Yarmouk NEAR/10 camp OR Yarmuk NEAR/3 refugees OR title:(Damascus OR Aleppo)"
        ' OR "Red Cres"* OR (category:aid AND refugees NEAR/5 shelter) OR author:staff UNRWA',
    ),
    WatchlistSettings("common", any=(), all=("the", "of"), none=("weather",), channels=("x",)),
    WatchlistSettings("prefix", any=("Palestin*", "humanitar*", "feed"), channels=("x",)),
    WatchlistSettings("feeds", any=(), query='feed:"news 1"* OR feed:test', channels=("x",)),
    WatchlistSettings("tagged", any=("said",), tags=("other",), channels=("x",)),
)


def inputs(limit: int | None) -> list[tuple[str, Path, str]]:
    """(name, path, url) of every input: the benchmark corpus, then feedparser's tests."""
    found = [
        (f"bench/{p.name}", p, f"https://127.0.0.1/feeds/{p.name}")
        for p in sorted(BENCH.glob("*.xml"))
    ]
    for path in sorted(p for p in FEEDPARSER.rglob("*") if p.is_file()):
        rel = path.relative_to(FEEDPARSER).as_posix()
        found.append((f"feedparser/{rel}", path, f"http://example.org/{rel}"))
    return found[:limit] if limit else found


def task(name: str, body: bytes, url: str) -> process.BodyTask:
    index = sum(map(ord, name)) % 20
    return process.BodyTask(
        body=body,
        url=url,
        content_type=None,
        feed_tags=("news",),
        now=NOW,
        feed_name=f"News {index}" if name.startswith("bench/") else "Test feed",
    )


def digest(value: object) -> str:
    return hashlib.sha256(repr(value).encode("utf-8", "surrogatepass")).hexdigest()


def parsed_inputs(
    files: list[tuple[str, Path, str]], cache: Path | None
) -> Iterator[tuple[str, process.BodyTask, ParsedFeed | str, float]]:
    """Each input with its parse (or the ParseError text) and the seconds parsing took."""
    cached: dict[str, ParsedFeed | str] = {}
    if cache is not None and cache.exists():
        with cache.open("rb") as f:
            cached = pickle.load(f)
    fresh: dict[str, ParsedFeed | str] = {}
    for name, path, url in files:
        item = task(name, path.read_bytes(), url)
        if name in cached:
            yield name, item, cached[name], 0.0
            continue
        start = time.perf_counter()
        try:
            result: ParsedFeed | str = parse_feed(item.body, url=item.url)
        except ParseError as exc:
            result = f"ParseError: {exc}"
        fresh[name] = result
        yield name, item, result, time.perf_counter() - start
    if cache is not None and fresh:
        with cache.open("wb") as f:
            pickle.dump({**cached, **fresh}, f, pickle.HIGHEST_PROTOCOL)


class Timer:
    """Wraps the stage functions `process` calls, adding up the seconds each takes."""

    def __init__(self, rules: WatchRules) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self._rules = rules
        self._saved: list[tuple[object, str, Callable[..., Any]]] = []

    def __enter__(self) -> Timer:
        for stage, names in STAGES.items():
            for name in names:
                owner: object = process
                if name.startswith("rules."):
                    owner, name = self._rules, name.removeprefix("rules.")
                original = getattr(owner, name, None)
                if original is not None:
                    self._saved.append((owner, name, original))
                    setattr(owner, name, self._wrap(stage, original))
        return self

    def __exit__(self, *exc: object) -> None:
        for owner, name, original in reversed(self._saved):
            if owner is self._rules:
                delattr(owner, name)  # back to the class's method
            else:
                setattr(owner, name, original)
        self._saved.clear()

    def _wrap(self, stage: str, function: Callable[..., Any]) -> Callable[..., Any]:
        seconds, clock = self.seconds, time.perf_counter

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = clock()
            try:
                return function(*args, **kwargs)
            finally:
                seconds[stage] += clock() - start

        return timed


def after_parse(parsed: ParsedFeed | str, item: process.BodyTask, rules: WatchRules) -> object:
    """`process_body`'s result from a parse: Processed, or the ParseError's text."""
    if isinstance(parsed, str):
        return parsed
    try:
        return process.process_parsed(parsed, item, rules)
    except Exception as exc:  # as process_body words it
        return f"ParseError: internal error: {exc.__class__.__name__}: {str(exc)[:200]}"


def end_to_end(item: process.BodyTask, rules: WatchRules) -> object:
    try:
        return process.process_body(item, rules)
    except ParseError as exc:
        return f"ParseError: {exc}"


def run(args: argparse.Namespace) -> int:
    rules = WatchRules(POLL_WATCHLISTS if args.watchlists == "poll" else WATCHLISTS)
    files = inputs(args.limit)
    golden = json.loads(Path(args.check).read_text()) if args.check else None
    if golden is not None and golden.pop("watchlists", ["golden"])[0] != args.watchlists:
        raise SystemExit(f"{args.check} was saved with other watchlists")
    hashes: dict[str, list[str]] = {}
    timer = Timer(rules)
    totals: dict[str, float] = defaultdict(float)
    counted = errors = 0
    for name, item, parsed, parse_s in parsed_inputs(files, None if args.full else args.cache):
        bench = name.startswith("bench/")
        with timer if bench else nullcontext():
            start = time.perf_counter()
            result = after_parse(parsed, item, rules)
            post = time.perf_counter() - start
        start = time.perf_counter()
        pickle.loads(pickle.dumps(result))
        transfer = time.perf_counter() - start
        hashes[name] = [digest(result), digest(parsed), hashlib.sha256(item.body).hexdigest()]
        if args.full and digest(end_to_end(item, rules)) != hashes[name][0]:
            print(f"{name}: process_body differs from parse + process_parsed")
            errors += 1
        errors += isinstance(result, str)
        if bench:
            counted += 1
            totals["parse"] += parse_s
            totals["after parse"] += post
            totals["pickle"] += transfer
    report(totals, timer.seconds, counted, len(hashes), errors)
    if args.save:
        saved = {"watchlists": [args.watchlists], **hashes}
        Path(args.save).write_text(json.dumps(saved, indent=0, sort_keys=True))
        print(f"saved {len(hashes)} hashes to {args.save}")
    return compare(hashes, golden, args.full) if golden is not None else 0


def report(
    totals: dict[str, float], stages: dict[str, float], feeds: int, n: int, err: int
) -> None:
    print(f"{n} inputs ({err} ParseErrors), {feeds} from the benchmark corpus; ms per feed:")
    if not feeds:
        return
    rows = dict(totals)
    for stage, seconds in stages.items():
        rows[f"  {stage}"] = seconds
    stage_sum = sum(stages.values())
    rows["  rest"] = max(0.0, totals["after parse"] - stage_sum) if stages else 0.0
    for label, seconds in rows.items():
        print(f"  {label:<16}{1000 * seconds / feeds:8.3f}")
    print(
        f"  {'after + pickle':<16}{1000 * (totals['after parse'] + totals['pickle']) / feeds:8.3f}"
    )


def compare(hashes: dict[str, list[str]], golden: dict[str, list[str]], full: bool) -> int:
    """Report the differences; with `full`, inputs whose bytes changed since the golden
    file was saved (`poll.py` advances its corpus) are counted apart: they say nothing."""
    moved = {k for k in hashes if full and k in golden and golden[k][2:] not in ([], hashes[k][2:])}
    if moved:
        print(f"  {len(moved)} inputs changed since the golden file was saved; not compared")
        hashes = {k: v for k, v in hashes.items() if k not in moved}
        golden = {k: v for k, v in golden.items() if k not in moved}
    missing = sorted(set(golden) - set(hashes))
    changed = sorted(k for k in hashes if k in golden and golden[k][0] != hashes[k][0])
    parser = sorted(k for k in hashes if k in golden and golden[k][1] != hashes[k][1])
    same = sum(1 for k in hashes if k in golden and golden[k][0] == hashes[k][0])
    print(f"golden check: {same} identical, {len(changed)} changed, {len(missing)} missing")
    if parser:
        print(f"  the parser's own output changed for {len(parser)}: {parser[:5]}")
    for name in changed[:20]:
        print(f"  changed: {name}")
    return 1 if changed or missing or parser else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--save", help="write a golden file")
    parser.add_argument("--check", help="compare with a golden file")
    parser.add_argument("--cache", type=Path, help="cache of parsed feeds (made if absent)")
    parser.add_argument("--full", action="store_true", help="parse again, check process_body")
    parser.add_argument("--limit", type=int, help="only the first N inputs")
    parser.add_argument(
        "--watchlists",
        choices=("golden", "poll"),
        default="golden",
        help="golden: many matcher paths (the default); poll: benchmarks/poll.py's one",
    )
    return run(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
