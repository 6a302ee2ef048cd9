"""Watchlist matching: which watchlists an entry matches, with what terms, and where.

This package is pure: it takes strings and returns value objects from `aggregator.types`.
It must not do I/O, import storage, network, settings or alert code, or decide anything
about delivery (once per story, channels, retries); `pipeline.py` owns those decisions.

Modules:

``fold``
    `fold` (the comparison form of text), `tokenize` (words with folded forms and
    spans in the original text) and `Words` (the same words, spans on demand, for
    scanning). The single definition of "the same word".

``lexer`` and ``query``
    `Term` (one word, phrase or prefix) and `parse_query` (the query language -> a
    syntax tree, or `QueryError` with a column); the lexer splits the text into tokens.

``logic``
    `WatchlistSpec` (name, `any`, `all`, `none`, `query`) as one boolean expression:
    building, evaluating and explaining it.

``matcher``
    `Matcher`: all watchlists compiled into one Aho–Corasick automaton, matched
    against an entry's fields.

``snippet``
    `make_snippet` (the text around a hit) and `mark` (a term marked in a snippet).

``prefilter``
    What a watchlist requires, as words a full-text index can look up (candidates for
    backtests and search, which the matcher then decides exactly).

Semantics (see DESIGN.md, "Matching semantics"):

* Text and terms are folded the same way: NFKD, combining marks dropped, case folded,
  Arabic harakat and tatweel dropped and letter variants unified. "Yarmūk", "YARMUK"
  and "yarmuk" are one word; so are "الْيَرْمُوك", "ٱليرموك" and "اليرموك".
* Words are runs of letters, digits and combining marks; punctuation, hyphens,
  apostrophes, underscores and whitespace separate them ("al-Yarmouk" holds "yarmouk").
* A term matches whole words only ("Yarmouk" does not hit "Yarmoukian", "camp" does not
  hit "camps"); "camp*" hits any word starting with "camp". A phrase ("Red Crescent")
  hits consecutive words, whatever punctuation lies between them ("Red-Crescent"), but
  not with another word between them. In "categories" (one category per line) a phrase
  does not run from one category into the next.
* A watchlist matches when its `query` holds (see query.py for the language), any of
  its `any` terms occurs, all its `all` terms occur and none of its `none` terms does
  (each part only if given). Unscoped terms look at the text fields (`FIELDS`);
  `feed:` terms look at the feed's name, passed as the field "feed".
* Each watchlist that hits gives one `MatchResult`: the distinct terms that made it hit
  (never a NOT term), in the watchlist's order, and one `Highlight` per field and term
  for its first occurrence (for NEAR, the pair that qualified), fields in the order of
  `ALL_FIELDS`, earliest hit first within a field. Its `snippet` (the first highlight)
  is the passage an alert shows.

Typical use::

    matcher = Matcher.compile([WatchlistSpec("yarmouk", ("Yarmouk", "اليرموك"))])
    for result in matcher.match(entry_fields(entry)):
        ...

Compile once per configuration (compiling validates every term and raises ValueError
naming the watchlist) and reuse the matcher for every entry; it is immutable after
`compile` and safe to share between threads.
"""

from __future__ import annotations

from aggregator.match.fold import Token, Words, fold, fold_words, tokenize
from aggregator.match.logic import ALL_FIELDS, FIELDS, WatchlistSpec
from aggregator.match.matcher import Matcher
from aggregator.match.query import QueryError, Term, parse_query
from aggregator.match.snippet import SNIPPET_CONTEXT, make_snippet, mark
from aggregator.types import EntryData, MatchResult

__all__ = [
    "ALL_FIELDS",
    "FIELDS",
    "SNIPPET_CONTEXT",
    "Matcher",
    "QueryError",
    "Term",
    "Token",
    "WatchlistSpec",
    "Words",
    "entry_fields",
    "fold",
    "fold_words",
    "make_snippet",
    "mark",
    "match_entry",
    "parse_query",
    "tokenize",
]


def entry_fields(entry: EntryData) -> dict[str, str]:
    """The fields of a normalised entry as `Matcher.match` takes them.

    Categories are joined one per line, so a phrase cannot run from one into the next.
    """
    return {
        "title": entry.title,
        "summary": entry.summary,
        "content": entry.content,
        "author": entry.author,
        "categories": "\n".join(entry.categories),
    }


def match_entry(matcher: Matcher, entry: EntryData) -> list[MatchResult]:
    """Match a normalised entry: `matcher.match(entry_fields(entry))`."""
    return matcher.match(entry_fields(entry))
