#!/usr/bin/env python3
"""The parse stage with and without its fast path: acceptance and milliseconds per feed.

Runs `parse.parse_feed` over every file of a feed directory (default: the generated
benchmark corpus, served as application/rss+xml) twice per round, once as it is (fast
path first) and once with the fast path turned off (feedparser only), back to back so
that other load on the machine hits both alike, and prints the share of bodies the fast
path accepts and the mean milliseconds per feed of each, per round and as the median.
`--corpus` does the same for feedparser's own test corpus (each file with the
Content-Type its `Header:` comment names).

  python benchmarks/parse.py --rounds 5
  python benchmarks/parse.py --corpus ../shared/corpora/feedparser-tests --rounds 3
"""

from __future__ import annotations

import argparse
import contextlib
import re
import statistics
import sys
import time
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aggregator import fastparse, parse
from aggregator.errors import ParseError

BENCH = Path("/tmp/bench/corpus-aggregator/feeds")
_HEADER_TYPE = re.compile(rb"Header:\s*Content-type:\s*([^\r\n]*)", re.IGNORECASE)


def load(directory: Path, corpus: bool) -> list[tuple[bytes, str | None]]:
    if not corpus:
        return [(p.read_bytes(), "application/rss+xml") for p in sorted(directory.glob("*.xml"))]
    skip = {"README.md", "LICENSE"}
    paths = sorted(p for p in directory.rglob("*") if p.is_file() and p.name not in skip)
    bodies = []
    for path in paths:
        body = path.read_bytes()
        found = _HEADER_TYPE.search(body)
        bodies.append((body, found.group(1).decode("latin-1").strip() if found else None))
    return bodies


def ms_per_feed(bodies: list[tuple[bytes, str | None]], *, fast: bool) -> float:
    off = mock.patch.object(parse, "_run_fast_path", return_value=None)
    with contextlib.nullcontext() if fast else off:
        start = time.perf_counter()
        for body, ctype in bodies:
            with contextlib.suppress(ParseError):
                parse.parse_feed(body, url="http://127.0.0.1/feed.xml", content_type=ctype)
        return (time.perf_counter() - start) / len(bodies) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", nargs="?", type=Path, default=BENCH)
    parser.add_argument("--corpus", type=Path, help="feedparser's test corpus instead")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    bodies = load(args.corpus or args.directory, corpus=args.corpus is not None)
    accepted = sum(fastparse.parse_fast(body, ctype) is not None for body, ctype in bodies)
    print(f"{len(bodies)} bodies, fast path accepts {accepted} ({accepted / len(bodies):.1%})")
    slow, quick = [], []
    for round_ in range(args.rounds):
        slow.append(ms_per_feed(bodies, fast=False))
        quick.append(ms_per_feed(bodies, fast=True))
        print(
            f"round {round_}: feedparser only {slow[-1]:.2f} ms/feed, "
            f"fast path first {quick[-1]:.2f} ms/feed ({slow[-1] / quick[-1]:.1f}x)"
        )
    s, q = statistics.median(slow), statistics.median(quick)
    print(f"median: {s:.2f} -> {q:.2f} ms/feed ({s / q:.1f}x)")


if __name__ == "__main__":
    main()
