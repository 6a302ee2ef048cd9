"""Snippets: the original text around a hit, and finding a term again inside one.

Responsible for `make_snippet` (about SNIPPET_CONTEXT characters either side of a hit,
cut at whitespace, "…" where text was cut, whitespace collapsed, the hit always whole)
and `locate` (where a term occurs in a text, by the same folding and word rules as the
matcher, so a snippet's hit can be marked for a reader).

Must not: do I/O, or know about watchlists, fields or the automaton.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

from aggregator.match.fold import tokenize
from aggregator.match.query import Term

__all__ = ["ELLIPSIS", "SNIPPET_CONTEXT", "locate", "make_snippet", "mark"]

SNIPPET_CONTEXT: Final = 80
"""About this many characters of context are kept on each side of a hit."""

ELLIPSIS: Final = "…"


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


def locate(text: str, term: Term) -> tuple[int, int] | None:
    """The span of the first occurrence of `term` in `text`, or None."""
    tokens = tokenize(text)
    words, last = term.words, len(term.words) - 1
    for i in range(len(tokens) - last):
        if all(tokens[i + k].folded == words[k] for k in range(last)):
            word = tokens[i + last].folded
            if word.startswith(words[last]) if term.prefix else word == words[last]:
                return tokens[i].start, tokens[i + last].end
    return None


def mark(snippet: str, term: str, left: str = "[", right: str = "]") -> str:
    """`snippet` with the first occurrence of `term` (as written) between left and right."""
    try:
        span = locate(snippet, Term.parse(term))
    except ValueError:
        return snippet
    if span is None:
        return snippet
    start, end = span
    return f"{snippet[:start]}{left}{snippet[start:end]}{right}{snippet[end:]}"
