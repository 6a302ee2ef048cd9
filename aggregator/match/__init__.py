"""Watchlist matching: which watchlists an entry matches, with what terms, and where.

This package is pure: it takes strings and returns value objects from `aggregator.types`.
It must not do I/O, import storage, network, settings or alert code, or decide anything
about delivery (once per story, channels, retries); `pipeline.py` owns those decisions.

Modules:

``fold``
    `fold` (the comparison form of text), `tokenize` (words with folded forms and
    spans in the original text) and `Words` (the same words, spans on demand, for
    scanning). The single definition of "the same word".

``matcher``
    `Term` (one watchlist string), `WatchlistSpec` (a watchlist's name and terms) and
    `Matcher` (all watchlists compiled into one index, matched against an entry's
    fields), plus `make_snippet`.

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
* Each watchlist that hits gives one `MatchResult`: the distinct terms that hit, in the
  watchlist's order, and one `Highlight` per field and term for its first occurrence,
  fields in the order of `FIELDS`, earliest hit first within a field. Its `snippet` (the
  first highlight) is the passage an alert shows.

Typical use::

    matcher = Matcher.compile([WatchlistSpec("yarmouk", ("Yarmouk", "اليرموك"))])
    for result in matcher.match(entry_fields(entry)):
        ...

Compile once per configuration (compiling validates every term and raises ValueError
naming the watchlist) and reuse the matcher for every entry; it is immutable after
`compile` and safe to share between threads.
"""

from __future__ import annotations

from aggregator.match.fold import Token, Words, fold, tokenize
from aggregator.match.matcher import (
    FIELDS,
    SNIPPET_CONTEXT,
    Matcher,
    Term,
    WatchlistSpec,
    make_snippet,
)
from aggregator.types import EntryData, MatchResult

__all__ = [
    "FIELDS",
    "SNIPPET_CONTEXT",
    "Matcher",
    "Term",
    "Token",
    "WatchlistSpec",
    "Words",
    "entry_fields",
    "fold",
    "make_snippet",
    "match_entry",
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
