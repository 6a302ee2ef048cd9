"""Watchlist terms and the compiled matcher that finds them in an entry's fields.

Responsible for:

* `Term`: parsing one watchlist string into a word, a phrase or a prefix, folded with
  the same `fold`/`tokenize` as entry text.
* `WatchlistSpec`: the matching part of a configured watchlist (name and terms).
* `Matcher`: one index over the terms of every watchlist, compiled once per config and
  used for every entry. Matching costs a few dictionary look-ups per word of text,
  whatever the number of watchlists; only terms that actually hit are looked at again.
* Snippets: the original text around the first hit of a term in a field.

Must not: do any I/O, import storage, network or settings code, or decide what happens
after a match (alerts, once-per-story, channels); callers own that.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import compress, count
from operator import itemgetter
from typing import Final

from aggregator.match.fold import Words, tokenize
from aggregator.types import Highlight, MatchResult

__all__ = ["FIELDS", "SNIPPET_CONTEXT", "Matcher", "Term", "WatchlistSpec", "make_snippet"]

FIELDS: Final = ("title", "summary", "content", "author", "categories")
"""The fields an entry is matched in, in the order highlights report them."""

SNIPPET_CONTEXT: Final = 80
"""About this many characters of context are kept on each side of a hit."""

ELLIPSIS: Final = "…"

HEAD: Final = 3
"""Prefix terms are indexed by this many leading folded characters."""


@dataclass(frozen=True, slots=True)
class Term:
    """One watchlist term: `words` (folded) must appear as consecutive words.

    With `prefix`, the last word only has to start with `words[-1]`.
    """

    raw: str
    words: tuple[str, ...]
    prefix: bool = False

    @classmethod
    def parse(cls, raw: str) -> Term:
        """Parse "Yarmouk", "Red Crescent", "Palestin*" or "Red Cresc*"; ValueError if blank."""
        text = raw.strip()
        prefix = text.endswith("*")
        if prefix:
            text = text.rstrip("*")
        if "*" in text:
            raise ValueError(f"term {raw!r}: '*' is only allowed at the end of a term")
        words = tuple(token.folded for token in tokenize(text))
        if not words:
            raise ValueError(f"term {raw!r} has no words to match")
        return cls(raw=raw, words=words, prefix=prefix)

    def matches_at(self, folded: Sequence[str], i: int) -> bool:
        """True when the term matches the folded words `folded[i:]` from their start."""
        words = self.words
        last = len(words) - 1
        if i + last >= len(folded):
            return False
        for k in range(last):
            if folded[i + k] != words[k]:
                return False
        word = folded[i + last]
        return word.startswith(words[last]) if self.prefix else word == words[last]


@dataclass(frozen=True, slots=True)
class WatchlistSpec:
    """What the matcher needs from a configured watchlist.

    A watchlist matches an entry when any of its `any` terms appears in any field.
    """

    name: str
    any: tuple[str, ...] = ()


# A hit: the text it was found in (a field, or one line of categories), its span in that
# text, and where it starts in the whole field (for ordering highlights).
_Hit = tuple[str, int, int, int]


class Matcher:
    """All watchlists compiled into one word index; build it with `Matcher.compile`."""

    __slots__ = ("_first", "_head_lengths", "_names", "_owners", "_prefix", "_terms")

    def __init__(self) -> None:
        self._names: tuple[str, ...] = ()
        self._terms: list[Term] = []  # distinct terms by (words, prefix); index = term id
        self._owners: list[list[tuple[int, int, str]]] = []  # term id -> (watchlist, pos, raw)
        self._first: dict[str, list[int]] = {}  # first folded word -> exact-start term ids
        # One-word prefix terms, keyed by their first HEAD characters (all of a shorter
        # prefix): head -> [(prefix, term id)]. A word looks up its own head only (and
        # its 1- and 2-character heads when such short prefixes exist).
        self._prefix: dict[str, list[tuple[str, int]]] = {}
        self._head_lengths: tuple[int, ...] = ()  # distinct key lengths in _prefix

    @classmethod
    def compile(cls, specs: Sequence[WatchlistSpec]) -> Matcher:
        """Parse every term of every watchlist and index them; ValueError names the culprit."""
        matcher = cls()
        ids: dict[tuple[tuple[str, ...], bool], int] = {}
        names: dict[str, None] = {}
        for wl, spec in enumerate(specs):
            if spec.name in names:
                raise ValueError(f"watchlist {spec.name!r} is defined twice")
            names[spec.name] = None
            if isinstance(spec.any, str):
                raise ValueError(f"watchlist {spec.name!r}: `any` must be a list of terms")
            raws = list(dict.fromkeys(spec.any))  # identical strings count once
            if not raws:
                raise ValueError(f"watchlist {spec.name!r} has no terms")
            for pos, raw in enumerate(raws):
                try:
                    term = Term.parse(raw)
                except ValueError as exc:
                    raise ValueError(f"watchlist {spec.name!r}: {exc}") from None
                key = (term.words, term.prefix)
                tid = ids.get(key)
                if tid is None:
                    tid = ids[key] = matcher._add_term(term)
                matcher._owners[tid].append((wl, pos, raw))
        matcher._names = tuple(names)
        matcher._head_lengths = tuple(sorted({len(head) for head in matcher._prefix}))
        return matcher

    def _add_term(self, term: Term) -> int:
        tid = len(self._terms)
        self._terms.append(term)
        self._owners.append([])
        if term.prefix and len(term.words) == 1:
            word = term.words[0]
            self._prefix.setdefault(word[:HEAD], []).append((word, tid))
        else:
            self._first.setdefault(term.words[0], []).append(tid)
        return tid

    @property
    def watchlists(self) -> tuple[str, ...]:
        """The names of the compiled watchlists, in the order they were given."""
        return self._names

    def match(self, fields: Mapping[str, str]) -> list[MatchResult]:
        """Match one entry's fields; one MatchResult per watchlist that hit, in spec order.

        `fields` maps names from FIELDS to text (categories joined by "\\n"); missing
        fields count as empty. A term hits at most once per field: its first occurrence.
        """
        unknown = set(fields) - set(FIELDS)
        if unknown:
            raise ValueError(f"unknown fields: {', '.join(sorted(unknown))}")
        found: list[tuple[str, dict[int, _Hit]]] = []
        for name in FIELDS:
            text = fields.get(name) or ""
            if not text:
                continue
            hits: dict[int, _Hit] = {}
            if name == "categories":  # one category per line; phrases stay within one
                base = 0
                for line in text.split("\n"):
                    self._scan(line, hits, base)
                    base += len(line) + 1
            else:
                self._scan(text, hits, 0)
            if hits:
                found.append((name, hits))
        return self._results(found) if found else []

    def _scan(self, text: str, hits: dict[int, _Hit], base: int) -> None:
        """Add to `hits` the first occurrence in `text` of every term not already there."""
        words = Words(text)
        folded = words.folded
        first, terms = self._first, self._terms
        heads, head_lengths = self._prefix, self._head_lengths
        # Most words of most entries start no term: find the few that may, by iterating
        # in C (map, zip, compress), and look at those positions only, in text order.
        flags: Iterator[bool] = map(first.__contains__, folded)
        if head_lengths:
            columns = [flags]
            for length in head_lengths:
                columns.append(map(heads.__contains__, map(itemgetter(slice(length)), folded)))
            flags = map(any, zip(*columns, strict=True))
        found: list[tuple[int, int, int]] = []  # (term id, first word, last word)
        for i in compress(count(), flags):
            word = folded[i]
            for tid in first.get(word, ()):
                if tid not in hits:
                    term = terms[tid]
                    n = len(term.words)
                    if n == 1 or term.matches_at(folded, i):
                        hits[tid] = (text, i, i + n - 1, 0)  # spans filled in below
                        found.append((tid, i, i + n - 1))
            for length in head_lengths:
                for prefix, tid in heads.get(word[:length], ()):
                    if tid not in hits and word.startswith(prefix):
                        hits[tid] = (text, i, i, 0)
                        found.append((tid, i, i))
        for tid, i, j in found:  # word indexes -> character spans, for the few hits only
            start, end = words.span(i)[0], words.span(j)[1]
            hits[tid] = (text, start, end, base + start)

    def _results(self, found: list[tuple[str, dict[int, _Hit]]]) -> list[MatchResult]:
        # watchlist -> {pos: raw} for `terms`, and -> [(field no, start, pos, highlight)].
        terms_by_wl: dict[int, dict[int, str]] = {}
        marks_by_wl: dict[int, list[tuple[int, int, int, Highlight]]] = {}
        for field_no, (name, hits) in enumerate(found):
            for tid, (text, start, end, order) in hits.items():
                snippet = make_snippet(text, start, end)
                for wl, pos, raw in self._owners[tid]:
                    terms_by_wl.setdefault(wl, {})[pos] = raw
                    mark = (field_no, order, pos, Highlight(field=name, term=raw, snippet=snippet))
                    marks_by_wl.setdefault(wl, []).append(mark)
        results = []
        for wl in sorted(terms_by_wl):
            raws = terms_by_wl[wl]
            marks = sorted(marks_by_wl[wl], key=lambda m: m[:3])
            results.append(
                MatchResult(
                    watchlist=self._names[wl],
                    terms=tuple(raws[pos] for pos in sorted(raws)),
                    highlights=tuple(m[3] for m in marks),
                )
            )
        return results


def make_snippet(text: str, start: int, end: int, context: int = SNIPPET_CONTEXT) -> str:
    """The original text around `text[start:end]`, whitespace collapsed.

    About `context` characters are kept on each side, cut at whitespace (or exactly at
    `context` characters when there is none, as in unspaced scripts); "…" marks a side
    that was cut. The hit itself is always kept whole.
    """
    left = start - context
    if left <= 0:
        left = 0
    else:
        space = _SPACE.search(text, left - 1, start)
        left = space.start() if space else left
        while left < start and _is_mark(text[left]):
            left += 1  # never start on a combining mark cut off its letter
    right = end + context
    if right >= len(text):
        right = len(text)
    else:
        space = _LAST_SPACE.match(text, end, right + 1)
        right = space.end() - 1 if space else right
        while end < right < len(text) and _is_mark(text[right]):
            right += 1  # keep a letter's combining marks with it
    body = " ".join(text[left:right].split())
    head = ELLIPSIS if _NON_SPACE.search(text, 0, left) else ""
    tail = ELLIPSIS if _NON_SPACE.search(text, right) else ""
    return f"{head}{body}{tail}"


_SPACE: Final = re.compile(r"\s")
_LAST_SPACE: Final = re.compile(r".*\s", re.DOTALL)  # greedy: ends just after the last one
_NON_SPACE: Final = re.compile(r"\S")


def _is_mark(ch: str) -> bool:
    return unicodedata.category(ch)[0] == "M"
