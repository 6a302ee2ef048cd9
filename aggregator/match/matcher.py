"""The compiled matcher: every term of every watchlist in one automaton, run per entry.

Responsible for:

* `Matcher.compile`: each watchlist spec -> one expression (logic.py); every distinct
  term of every watchlist -> one key of a single Aho–Corasick automaton (pyahocorasick).
* `Matcher.match`: one entry's fields -> a `MatchResult` per watchlist that matches,
  with the terms that hit and a highlight (field, term, snippet) for each.

How a field is scanned. Its words are folded (`fold_words`) and joined as
" w1 w2 w3 ": one space before every word and after the last. A term is the key
" a b " (a phrase's words, one space apart), or " a b" for a prefix (no space after the
last word). So a key occurs in the joined text exactly where the term matches: a space
on each side means whole words, a single space between words means consecutive words,
whatever punctuation separated them originally. The automaton reports every
occurrence of every key in one pass in C; nothing found needs checking again. A hit's
word number is the count of spaces before it, which maps it back to the original text
for its snippet, only for the few watchlists that match.

Why Aho–Corasick rather than the word-dictionary index this module had before. Both
cost O(text) per entry, whatever the number of watchlists. The dictionary index needs
a Python-level step for every word that *might* start a term (the first word of a
phrase, the first letters of a prefix), then checks the rest; with 10,000 terms that
include two-word phrases of common words and short prefixes, most words of a text are
such candidates. Measured on the benchmark corpus (benchmarks/match.py, 10,000 terms):
finding the terms with a dictionary and set intersections ran at about 27,000 entries/s
with 92 candidates per entry still to verify, the automaton at about 40,000 entries/s
with nothing to verify. Folding and splitting the text stay in Python either way
(`fold_words`), and are now the larger part of the cost.

Evaluation. The watchlists owning a term that occurred are the only ones evaluated;
logic.py refuses watchlists that could match with none of their terms present, so
this is exact. Matching cost grows with the text and the hits, not with the number of
watchlists.

Must not: do any I/O, import storage, network or settings code, or decide what happens
after a match (alerts, once-per-story, channels); callers own that.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import ahocorasick

from aggregator.match.fold import fold_words, word_spans
from aggregator.match.logic import (
    ALL_FIELDS,
    FIELDS,
    Node,
    Test,
    WatchlistSpec,
    bind,
    build_expression,
    compile_test,
    leaves,
    witnesses,
)
from aggregator.match.query import Term
from aggregator.match.snippet import SNIPPET_CONTEXT, make_snippet
from aggregator.types import Highlight, MatchResult

__all__ = [
    "ALL_FIELDS",
    "FIELDS",
    "SNIPPET_CONTEXT",
    "Matcher",
    "Term",
    "WatchlistSpec",
    "make_snippet",
]

_FIELD_NO = {name: n for n, name in enumerate(ALL_FIELDS)}
_CATEGORIES = _FIELD_NO["categories"]

Occurrence = tuple[int, int, int]  # (field number, segment number, start in the joined text)
Segment = tuple[str, str, int]  # (original text, joined folded words, offset in the field)


def _key(term: Term) -> str:
    # A folded word may hold a space (NFKD of some ligatures); it must not split the word.
    words = " ".join(w.replace(" ", "\0") for w in term.words)
    return f" {words}" if term.prefix else f" {words} "


def _joined(text: str) -> str:
    words = fold_words(text)
    joined = " " + " ".join(words) + " "
    if not text.isascii() and joined.count(" ") != len(words) + 1:
        joined = " " + " ".join(w.replace(" ", "\0") for w in words) + " "
    return joined


class _Scan:
    """The terms found in one entry: the `Evidence` that expressions are evaluated on."""

    __slots__ = ("masks", "occurrences", "segments", "sizes", "snippets", "spans")

    def __init__(self, sizes: list[int]) -> None:
        self.sizes = sizes  # term id -> number of words
        self.masks: dict[int, int] = {}
        self.occurrences: dict[int, list[Occurrence]] = {}
        self.segments: dict[tuple[int, int], Segment] = {}
        self.spans: dict[tuple[int, int], list[int]] = {}
        self.snippets: dict[tuple[int, Occurrence], tuple[int, str]] = {}

    def words(self, tid: int, occurrence: Occurrence) -> tuple[int, int]:
        """The first and last word numbers of a hit."""
        field, segment, start = occurrence
        first = self.segments[field, segment][1].count(" ", 0, start)
        return first, first + self.sizes[tid] - 1

    def near(
        self, left: int, right: int, distance: int, mask: int
    ) -> tuple[Occurrence, Occurrence] | None:
        """The first pair of hits of the two terms in one field of `mask`, close enough."""
        lefts = [o for o in self.occurrences.get(left, ()) if (1 << o[0]) & mask]
        rights = self.occurrences.get(right, ())
        for a in lefts:
            a0, a1 = self.words(left, a)
            for b in rights:
                if b[:2] != a[:2]:
                    continue
                b0, b1 = self.words(right, b)
                gap = b0 - a1 - 1 if a1 < b0 else a0 - b1 - 1 if b1 < a0 else -1
                if 0 <= gap <= distance:
                    return a, b
        return None

    def snippet(self, tid: int, occurrence: Occurrence) -> tuple[int, str]:
        """(offset of the hit in its field, snippet) for a hit."""
        done = self.snippets.get((tid, occurrence))
        if done is not None:
            return done
        field, segment, _ = occurrence
        text, _, base = self.segments[field, segment]
        spans = self.spans.get((field, segment))
        if spans is None:
            spans = self.spans[field, segment] = word_spans(text)
        first, last = self.words(tid, occurrence)
        start, end = spans[2 * first], spans[2 * last + 1]
        done = self.snippets[tid, occurrence] = (base + start, make_snippet(text, start, end))
        return done


class Matcher:
    """All watchlists compiled into one automaton; build it with `Matcher.compile`."""

    __slots__ = (
        "_automaton",
        "_exprs",
        "_ids",
        "_keys",
        "_lengths",
        "_names",
        "_owners",
        "_sizes",
        "_tests",
    )

    def __init__(self) -> None:
        self._names: tuple[str, ...] = ()
        self._ids: dict[tuple[tuple[str, ...], bool], int] = {}  # term key -> term id
        self._keys: list[str] = []  # term id -> automaton key
        self._lengths: list[int] = []  # term id -> length of its key
        self._sizes: list[int] = []  # term id -> number of words
        self._owners: list[set[int]] = []  # term id -> watchlists using it
        self._exprs: list[Node] = []
        self._tests: list[Test] = []
        self._automaton = ahocorasick.Automaton(ahocorasick.STORE_INTS)

    @classmethod
    def compile(cls, specs: Sequence[WatchlistSpec]) -> Matcher:
        """Parse every watchlist and index its terms; ValueError names the culprit."""
        matcher = cls()
        names: dict[str, None] = {}
        for wl, spec in enumerate(specs):
            if spec.name in names:
                raise ValueError(f"watchlist {spec.name!r} is defined twice")
            names[spec.name] = None
            try:
                expr = build_expression(spec)
            except ValueError as exc:
                message = str(exc)
                if not message.startswith("watchlist "):
                    message = f"watchlist {spec.name!r}: {message}"
                raise ValueError(message) from None
            expr = bind(expr, matcher._tid)
            for leaf in leaves(expr):
                matcher._owners[leaf.tid].add(wl)
            matcher._exprs.append(expr)
            matcher._tests.append(compile_test(expr))
        matcher._names = tuple(names)
        if matcher._keys:
            matcher._automaton.make_automaton()
        return matcher

    def _tid(self, term: Term) -> int:
        tid = self._ids.get(term.key)
        if tid is None:
            tid = self._ids[term.key] = len(self._keys)
            self._keys.append(_key(term))
            self._lengths.append(len(self._keys[tid]))
            self._sizes.append(len(term.words))
            self._owners.append(set())
            self._automaton.add_word(self._keys[tid], tid)
        return tid

    @property
    def watchlists(self) -> tuple[str, ...]:
        """The names of the compiled watchlists, in the order they were given."""
        return self._names

    def match(self, fields: Mapping[str, str]) -> list[MatchResult]:
        """Match one entry's fields; one MatchResult per watchlist that hit, in spec order.

        `fields` maps names from ALL_FIELDS to text (categories joined by "\\n", "feed"
        the feed's name); missing fields count as empty.
        """
        for name in fields:
            if name not in _FIELD_NO:
                raise ValueError(f"unknown field: {name}")
        if not self._keys:
            return []
        scan = self._scan(fields)
        if not scan.masks:
            return []
        touched: set[int] = set()
        for tid in scan.masks:
            touched.update(self._owners[tid])
        tests = self._tests
        return [self._result(wl, scan) for wl in sorted(touched) if tests[wl](scan)]

    def _scan(self, fields: Mapping[str, str]) -> _Scan:
        scan = _Scan(self._sizes)
        masks, occurrences, segments = scan.masks, scan.occurrences, scan.segments
        lengths = self._lengths
        find = self._automaton.iter
        for field, name in enumerate(ALL_FIELDS):
            text = fields.get(name)
            if not text:
                continue
            bit = 1 << field
            lines = text.split("\n") if field == _CATEGORIES else (text,)
            base = 0
            for segment, line in enumerate(lines):
                joined = _joined(line)
                segments[field, segment] = (line, joined, base)
                base += len(line) + 1
                for end, tid in find(joined):
                    masks[tid] = masks.get(tid, 0) | bit
                    hit = (field, segment, end - lengths[tid] + 1)
                    if tid in occurrences:
                        occurrences[tid].append(hit)
                    else:
                        occurrences[tid] = [hit]
        return scan

    def _result(self, wl: int, scan: _Scan) -> MatchResult:
        marks: dict[tuple[int, str], tuple[int, int, int, Highlight]] = {}
        labels: dict[str, int] = {}
        for leaf, fixed in witnesses(self._exprs[wl], scan):
            labels[leaf.label] = leaf.order
            tid = leaf.tid
            hits = [fixed] if fixed is not None else _first_per_field(scan, tid, leaf.mask)
            for hit in hits:
                offset, snippet = scan.snippet(tid, hit)
                mark = (
                    hit[0],
                    offset,
                    leaf.order,
                    Highlight(ALL_FIELDS[hit[0]], leaf.label, snippet),
                )
                key = (hit[0], leaf.label)
                if key not in marks or mark[:3] < marks[key][:3]:
                    marks[key] = mark
        ordered = sorted(marks.values(), key=lambda m: m[:3])
        return MatchResult(
            watchlist=self._names[wl],
            terms=tuple(sorted(labels, key=labels.__getitem__)),
            highlights=tuple(m[3] for m in ordered),
        )


def _first_per_field(scan: _Scan, tid: int, mask: int) -> list[Occurrence]:
    first: dict[int, Occurrence] = {}
    for hit in scan.occurrences[tid]:
        if hit[0] not in first and (1 << hit[0]) & mask:
            first[hit[0]] = hit
    return list(first.values())
