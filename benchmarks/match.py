#!/usr/bin/env python3
"""Matching benchmark: the compiled matcher against one regex per term, and a backtest.

1. Matching. Parses and normalises the XML feeds of a corpus made by
   ../shared/bench/gen_corpus.py (generated into a temporary folder when none is
   given), builds --watchlists watchlists of --terms terms each (words, phrases and
   prefixes: the corpus's planted names, phrases of its common words, prefixes, and
   names that never occur), and times `Matcher.match` over every entry, folding and
   splitting of the text included, on one core. Then the same watchlists the common
   way, one compiled regular expression per term over the folded fields, on a sample,
   for the ratio; both must find the same matches on that sample.
2. Backtest. Stores --backtest-entries entries (the corpus's, repeated) in a fresh
   SQLite database and times `aggregator.search.backtest` of one watchlist over them.

  python benchmarks/match.py [CORPUS_DIR] [--watchlists 1000] [--terms 10]
"""

from __future__ import annotations

import argparse
import random
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aggregator.match import FIELDS, Matcher, WatchlistSpec, entry_fields, fold
from aggregator.match import query as q
from aggregator.normalize import normalize_entry
from aggregator.parse import parse_feed
from aggregator.types import EntryData

GEN_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "bench" / "gen_corpus.py"
PLANTED = [
    "Yarmouk",
    "Damascus",
    "Aleppo",
    "Idlib",
    "Gaza",
    "Rafah",
    "Khan Younis",
    "Jenin",
    "Beirut",
    "Sanaa",
    "Darfur",
    "Kabul",
    "Mosul",
    "UNRWA",
    "Red Crescent",
    "World Food Programme",
    "Security Council",
    "Islamic State",
    "Hezbollah",
    "refugee camp",
    "chemical weapons",
    "no-fly zone",
    "peace plan",
    "siege",
]
COMMON = [
    "aid",
    "convoy",
    "border",
    "talks",
    "fuel",
    "shortage",
    "winter",
    "storm",
    "flood",
    "court",
    "judge",
    "strike",
    "workers",
    "union",
    "drone",
    "missile",
    "envoy",
]


def load_entries(corpus: Path) -> list[tuple[str, EntryData]]:
    entries = []
    for path in sorted((corpus / "feeds").glob("*.xml")):
        url = f"https://bench.example/{path.name}"
        parsed = parse_feed(path.read_bytes(), url=url)
        entries += [(path.stem, normalize_entry(e, feed_url=url)) for e in parsed.entries]
    return entries


def _pseudo(rng: random.Random) -> str:
    """A made-up name; the odd first letters keep it clear of the corpus's words."""
    head = rng.choice(["zo", "vu", "ky", "qa", "xe", "jo"])
    return head + "".join(rng.choice("bcdfghklmnprstvz") + rng.choice("aeiou") for _ in range(2))


def make_term(rng: random.Random) -> str:
    """Mostly names that never occur, as in real watchlists; a fifth that can occur."""
    roll = rng.random()
    if roll < 0.10:
        return rng.choice(PLANTED)  # planted in about 5% of the corpus's stories
    if roll < 0.15:
        return f"{rng.choice(COMMON)} {rng.choice(COMMON)}"  # a phrase that sometimes occurs
    if roll < 0.20:
        name = rng.choice([p for p in PLANTED if " " not in p and len(p) > 5])
        return name[:-2] + "*"  # a prefix that occurs
    if roll < 0.45:
        return f"{_pseudo(rng).capitalize()} {_pseudo(rng).capitalize()}"  # absent phrase
    if roll < 0.60:
        return _pseudo(rng)[:4] + "*"  # absent prefix
    return _pseudo(rng).capitalize()  # absent name


def make_watchlists(count: int, terms: int, seed: int) -> list[WatchlistSpec]:
    """Half `any` lists, half queries `(t1 OR ... ) AND (... ) -t -t` of `terms` terms."""
    rng = random.Random(seed)
    specs = []
    for n in range(count):
        words = [make_term(rng) for _ in range(terms)]
        if n % 2 == 0:
            specs.append(WatchlistSpec(f"w{n}", tuple(words)))
            continue
        quoted = [f'"{w}"' if " " in w else w for w in words]
        half = max(1, (terms - 2) * 2 // 3)
        first, second, rest = quoted[:half], quoted[half : terms - 2], quoted[terms - 2 :]
        text = "(" + " OR ".join(first) + ")"
        if second:
            text += " AND (" + " OR ".join(second) + ")"
        text += "".join(f" -{t}" for t in rest)
        specs.append(WatchlistSpec(f"w{n}", query=text))
    return specs


def fields_of(feed: str, entry: EntryData) -> dict[str, str]:
    return {**entry_fields(entry), "feed": feed}


# ------------------------------------------------------------ the regex-per-term way


def _regex(term: q.Term) -> re.Pattern[str]:
    body = r"[\W_]+".join(re.escape(w) for w in term.words)
    tail = r"[^\W_]*" if term.prefix else ""
    return re.compile(rf"(?<![^\W_]){body}{tail}(?![^\W_])")


class NaiveMatcher:
    """One compiled regex per term, each watchlist's query evaluated term by term."""

    def __init__(self, specs: list[WatchlistSpec]) -> None:
        self.specs = []
        for spec in specs:
            if spec.query is not None:
                self.specs.append((spec.name, q.parse_query(spec.query)))
            else:
                nodes = tuple(q.TermNode(q.Term.parse(t), None, 0) for t in spec.any)
                self.specs.append((spec.name, q.Or(nodes)))
        self.regexes: dict[tuple[tuple[str, ...], bool], re.Pattern[str]] = {}
        for _, node in self.specs:
            self._compile(node)

    def _compile(self, node: q.Node) -> None:
        if isinstance(node, q.TermNode):
            self.regexes.setdefault(node.term.key, _regex(node.term))
        elif isinstance(node, q.Not):
            self._compile(node.child)
        elif isinstance(node, q.And | q.Or):
            for child in node.children:
                self._compile(child)

    def _holds(self, node: q.Node, folded: dict[str, str]) -> bool:
        if isinstance(node, q.TermNode):
            regex = self.regexes[node.term.key]
            names = [node.field] if node.field else FIELDS
            return any(regex.search(folded.get(name, "")) for name in names)
        if isinstance(node, q.Not):
            return not self._holds(node.child, folded)
        if isinstance(node, q.And):
            return all(self._holds(c, folded) for c in node.children)
        if isinstance(node, q.Or):
            return any(self._holds(c, folded) for c in node.children)
        raise TypeError(node)

    def match(self, fields: dict[str, str]) -> list[str]:
        folded = {name: fold(text) for name, text in fields.items()}
        return [name for name, node in self.specs if self._holds(node, folded)]


# ---------------------------------------------------------------------------- runs


def bench_matching(args: argparse.Namespace, entries: list[tuple[str, EntryData]]) -> None:
    specs = make_watchlists(args.watchlists, args.terms, args.seed)
    started = time.perf_counter()
    matcher = Matcher.compile(specs)
    print(
        f"compiled {len(specs)} watchlists x {args.terms} terms in "
        f"{time.perf_counter() - started:.2f} s"
    )
    fields = [fields_of(feed, entry) for feed, entry in entries]
    matcher.match(fields[0])
    best, found = float("inf"), 0
    for _ in range(args.rounds):
        started = time.perf_counter()
        found = sum(len(matcher.match(f)) for f in fields)
        best = min(best, time.perf_counter() - started)
    rate = len(fields) / best
    print(
        f"compiled matcher: {len(fields)} entries in {best:.3f} s = {rate:,.0f} entries/s "
        f"({found / len(fields):.2f} matches per entry)"
    )
    naive = NaiveMatcher(specs)
    sample = fields[: args.naive_sample]
    started = time.perf_counter()
    expected = [naive.match(f) for f in sample]
    naive_rate = len(sample) / (time.perf_counter() - started)
    print(
        f"one regex per term ({len(naive.regexes)} regexes): {len(sample)} entries "
        f"= {naive_rate:,.0f} entries/s; compiled is {rate / naive_rate:,.0f}x faster"
    )
    got = [[r.watchlist for r in matcher.match(f)] for f in sample]
    agree = sum(a == b for a, b in zip(got, expected, strict=True))
    print(f"same watchlists matched on {agree} of {len(sample)} sampled entries")
    if agree != len(sample):
        raise SystemExit("the compiled matcher and the regexes disagree")


def bench_backtest(args: argparse.Namespace, entries: list[tuple[str, EntryData]]) -> None:
    from sqlalchemy import insert
    from sqlmodel import select

    from aggregator.search import backtest
    from aggregator.storage.db import Database
    from aggregator.storage.models import Entry, Feed

    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{tmp}/backtest.db")
        db.migrate()
        now = datetime(2026, 11, 24, tzinfo=UTC)
        started = time.perf_counter()
        feeds = sorted({feed for feed, _ in entries})
        with db.transaction() as session:
            for name in feeds:
                session.add(Feed(name=name, url=f"https://bench.example/{name}", created_at=now))
            session.flush()
            ids = {f.name: f.id for f in session.exec(select(Feed)).all()}
            rows = []
            for n in range(args.backtest_entries):
                feed, e = entries[n % len(entries)]
                rows.append(
                    {
                        "feed_id": ids[feed],
                        "entry_key": f"k{n}",
                        "link": e.link,
                        "canonical_url": e.canonical_url,
                        "title": e.title,
                        "summary": e.summary,
                        "content": e.content,
                        "author": e.author,
                        "categories": list(e.categories),
                        "published": now - timedelta(minutes=n),
                        "content_hash": e.content_hash,
                        "first_seen_at": now,
                        "last_changed_at": now,
                    }
                )
                if len(rows) == 5000:
                    session.execute(insert(Entry), rows)
                    rows = []
            if rows:
                session.execute(insert(Entry), rows)
        print(f"stored {args.backtest_entries:,} entries in {time.perf_counter() - started:.1f} s")
        for text in args.backtest_query:
            spec = WatchlistSpec("backtest", query=text)
            started = time.perf_counter()
            report = backtest(db, spec, since=None, now=now, sample=10)
            elapsed = time.perf_counter() - started
            print(
                f"backtest {text!r}: {report.scanned:,} candidates of "
                f"{args.backtest_entries:,} entries, {report.matched_entries:,} matching "
                f"entries, {report.stories:,} stories, in {elapsed:.2f} s"
            )
        db.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", nargs="?", type=Path, help="made by gen_corpus.py")
    parser.add_argument("--feeds", type=int, default=200, help="when generating a corpus")
    parser.add_argument("--watchlists", type=int, default=1000)
    parser.add_argument("--terms", type=int, default=10)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--naive-sample", type=int, default=200)
    parser.add_argument("--backtest-entries", type=int, default=100_000)
    parser.add_argument(
        "--backtest-query",
        action="append",
        default=None,
        help="default: '(\"Yarmouk\" OR Yarmuk) AND (camp OR refugees) -football'",
    )
    args = parser.parse_args()
    args.backtest_query = args.backtest_query or [
        '("Yarmouk" OR Yarmuk) AND (camp OR refugees) -football'
    ]
    with tempfile.TemporaryDirectory() as tmp:
        corpus = args.corpus
        if corpus is None:
            corpus = Path(tmp) / "corpus"
            command = [sys.executable, str(GEN_CORPUS), str(corpus), "--feeds", str(args.feeds)]
            subprocess.run([*command, "--entries", "40"], check=True, stdout=subprocess.DEVNULL)
        started = time.perf_counter()
        entries = load_entries(corpus)
        print(
            f"parsed and normalised {len(entries):,} entries from {corpus} "
            f"in {time.perf_counter() - started:.1f} s"
        )
    bench_matching(args, entries)
    if args.backtest_entries:
        bench_backtest(args, entries)
    return 0


if __name__ == "__main__":
    sys.exit(main())
