"""What a watchlist requires of an entry, as words a full-text index can look up.

Responsible for `requirement`: a watchlist expression -> a tree of `Words` (a word,
phrase or prefix), `Both` (AND) and `Either` (OR) that every matching entry satisfies,
or None when no such condition can be stated (look at every entry). Backtests and
search hand it to the database's full-text index to find candidates quickly; the
matcher then decides exactly, so the requirement may be looser than the watchlist
(NOT parts, field scopes and NEAR distances are dropped) but never stricter.

What "never stricter" needs: the index must find every entry the matcher would. The
indexes tokenise raw text themselves (SQLite FTS5 unicode61 with diacritics removed;
PostgreSQL's 'simple' configuration, which only lower-cases), so only terms made of
ASCII letters and digits are handed to them; any other term (Arabic, Greek, words
that fold to something else) makes its part of the requirement None. Known gaps, where
the index and the matcher still split or fold an ASCII word differently and a match can
be missed: on SQLite, text spelling it with ß, ligatures, full-width letters or a soft
hyphen; on PostgreSQL also accented spellings (Yarmūk for Yarmuk), words inside URLs,
e-mail addresses and decimal numbers.

Must not: talk to a database or render index syntax (storage/search.py does).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from aggregator.match.logic import TEXT_MASK, AllOf, AnyOf, Leaf, Neg, Node, Prox

__all__ = ["Both", "Either", "Requirement", "Words", "requirement"]

_INDEXABLE: Final = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True, slots=True)
class Words:
    """Consecutive words; with `prefix`, the last one only has to start with its text."""

    words: tuple[str, ...]
    prefix: bool = False


@dataclass(frozen=True, slots=True)
class Both:
    parts: tuple[Requirement, ...]


@dataclass(frozen=True, slots=True)
class Either:
    parts: tuple[Requirement, ...]


Requirement = Words | Both | Either


def _leaf(leaf: Leaf) -> Requirement | None:
    if not leaf.mask & TEXT_MASK:  # feed: terms; the index holds no feed names
        return None
    if not all(_INDEXABLE.fullmatch(word) for word in leaf.term.words):
        return None
    return Words(leaf.term.words, leaf.term.prefix)


def requirement(node: Node) -> Requirement | None:
    """A condition every entry matching `node` satisfies, or None for "any entry"."""
    if isinstance(node, Leaf):
        return _leaf(node)
    if isinstance(node, Neg):
        return None
    if isinstance(node, Prox):
        return _both([_leaf(node.left), _leaf(node.right)])
    parts = [requirement(part) for part in node.parts]
    if isinstance(node, AllOf):
        return _both(parts)
    assert isinstance(node, AnyOf)
    if any(part is None for part in parts):
        return None
    found = tuple(dict.fromkeys(p for p in parts if p is not None))
    return found[0] if len(found) == 1 else Either(found)


def _both(parts: list[Requirement | None]) -> Requirement | None:
    found = tuple(dict.fromkeys(p for p in parts if p is not None))
    if not found:
        return None
    return found[0] if len(found) == 1 else Both(found)
