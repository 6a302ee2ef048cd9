"""The query language's lexer: query text -> tokens, each with its 1-based column.

Responsible for splitting a query into parentheses, "phrases" (with an optional `*`
after the closing quote), the operators AND, OR, NOT, NEAR/n and `-`, field scopes
(`title:`) and bare words, and for the errors that belong to single tokens (an
unterminated quote, an unknown field, NEAR without a distance). query.py parses the
tokens.

Must not: parse, fold or match anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

__all__ = ["FIELD_NAMES", "MAX_DISTANCE", "STARTS_OPERAND", "QueryError", "Token", "tokens"]

FIELD_NAMES: Final = {
    "title": "title",
    "summary": "summary",
    "content": "content",
    "author": "author",
    "category": "categories",
    "categories": "categories",
    "feed": "feed",
}
"""Field scopes as written -> the field they restrict a term to."""

MAX_DISTANCE: Final = 1000


class QueryError(ValueError):
    """A query that cannot be parsed; `column` is 1-based."""

    def __init__(self, column: int, reason: str) -> None:
        self.column = column
        self.reason = reason
        super().__init__(f"column {column}: {reason}")


# Token kinds: ( ) " phrase, word, field, AND, OR, NOT, NEAR, - (minus), end.
_TOKEN_RE: Final = re.compile(r'\s*(?:(?P<punct>[()])|(?P<quote>")|(?P<bare>[^\s()"]+))')
_FIELD_RE: Final = re.compile(r"([A-Za-z]+):")
_NEAR_RE: Final = re.compile(r"NEAR(?:/(\d*))?")
STARTS_OPERAND: Final = frozenset({"(", "word", "phrase", "field", "-", "NOT"})


@dataclass(frozen=True, slots=True)
class Token:
    kind: str
    text: str  # the term text, the field name, or the operator as written
    column: int
    end: int  # 0-based index just after the token
    value: int = 0  # NEAR's distance


def tokens(query: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while (m := _TOKEN_RE.match(query, pos)) is not None and m.end() > m.start():
        start = m.start(m.lastgroup or 0)
        column = start + 1
        if m.group("punct"):
            tokens.append(Token(m.group("punct"), m.group("punct"), column, m.end()))
            pos = m.end()
        elif m.group("quote"):
            close = query.find('"', start + 1)
            if close < 0:
                raise QueryError(column, "unterminated quote")
            end = close + 1
            star = query.startswith("*", end)
            text = query[start + 1 : close] + ("*" if star else "")
            if not query[start + 1 : close].strip():
                raise QueryError(column, "empty phrase")
            tokens.append(Token("phrase", text, column, end + star))
            pos = end + star
        else:
            pos = m.end()
            bare = m.group("bare")
            if bare == "-" and query[pos : pos + 1] in ('"', "("):  # -"a phrase", -(a OR b)
                tokens.append(Token("-", "-", column, pos))
            else:
                tokens.extend(_bare(bare, start))
    if query[pos:].strip():  # pragma: no cover - the regex consumes everything
        raise QueryError(pos + 1, "unexpected text")
    return tokens


def _bare(text: str, start: int) -> list[Token]:
    """One whitespace-delimited run: an operator, -, field:, and/or a word."""
    column, end = start + 1, start + len(text)
    if text in ("AND", "OR", "NOT"):
        return [Token(text, text, column, end)]
    near = _NEAR_RE.fullmatch(text)
    if near is not None:
        digits = near.group(1)
        if not digits:
            raise QueryError(column, "NEAR needs a distance in words, as in NEAR/5")
        if int(digits) > MAX_DISTANCE:
            raise QueryError(column, f"NEAR distance must be at most {MAX_DISTANCE}")
        return [Token("NEAR", text, column, end, int(digits))]
    if text.startswith("-"):
        if len(text) == 1:
            raise QueryError(column, "'-' must be followed by a term, as in -football")
        return [Token("-", "-", column, start + 1), *_bare(text[1:], start + 1)]
    field = _FIELD_RE.match(text)
    if field is not None:
        name = field.group(1).lower()
        if name not in FIELD_NAMES:
            known = ", ".join(k for k in FIELD_NAMES if k != "categories")
            raise QueryError(
                column,
                f"unknown field {field.group(1)!r} (fields: {known}); "
                "put the term in quotes to search for the text itself",
            )
        scope = Token("field", FIELD_NAMES[name], column, start + field.end())
        rest = text[field.end() :]
        return [scope, *_bare(rest, start + field.end())] if rest else [scope]
    return [Token("word", text, column, end)]
