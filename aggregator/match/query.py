"""The watchlist query language: terms, and query text parsed into a syntax tree.

Responsible for:

* `Term`: one word, "phrase" or prefix* as the matcher compares it (folded words).
* `parse_query`: query text -> a tree of `TermNode`, `Near`, `Not`, `And`, `Or`, or a
  `QueryError` that names the 1-based column where the problem is.

The language (in the spirit of Google Alerts and FreshRSS search)::

    Yarmouk                 a word (whole words only; folded as DESIGN.md says)
    "Red Crescent"          a phrase: consecutive words, any punctuation between them
    Palestin*   "Red Cres"* a prefix: the (last) word only has to start with it
    a b   a AND b           both (implicit AND)
    a OR b                  either
    -a   NOT a              not
    ( ... )                 grouping
    title:a  title:(a OR b) only in that field: title, summary, content, author,
                            category (or categories), feed (the feed's name)
    a NEAR/5 b              both terms in one field with at most 5 words between them,
                            in either order

Precedence, loosest first: OR, AND, NOT, NEAR, field scope; so `a b OR c` is
`(a AND b) OR c`, as in SQLite FTS5. Operators are upper case; `and`, `or` and `near`
are words. A bare `name:` that is not a field is an error (quote it to search for it),
so a typo cannot silently turn a scope into a phrase that never matches.

Must not: know about entries, watchlists, matching or storage; it only parses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from aggregator.match.fold import tokenize
from aggregator.match.lexer import (
    FIELD_NAMES,
    STARTS_OPERAND,
    QueryError,
    Token,
    tokens,
)

__all__ = [
    "FIELD_NAMES",
    "And",
    "Near",
    "Node",
    "Not",
    "Or",
    "QueryError",
    "Term",
    "TermNode",
    "parse_query",
]


MAX_DEPTH: Final = 64


@dataclass(frozen=True, slots=True)
class Term:
    """One term: `words` (folded) must appear as consecutive words.

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

    @property
    def key(self) -> tuple[tuple[str, ...], bool]:
        """What makes two terms the same term."""
        return self.words, self.prefix


@dataclass(frozen=True, slots=True)
class TermNode:
    """A term in a query; `field` is None for the text fields (all but feed)."""

    term: Term
    field: str | None
    column: int


@dataclass(frozen=True, slots=True)
class Near:
    left: TermNode
    right: TermNode
    distance: int
    column: int


@dataclass(frozen=True, slots=True)
class Not:
    child: Node
    column: int


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Node, ...]


Node = TermNode | Near | Not | And | Or


class _Parser:
    def __init__(self, query: str) -> None:
        self.query = query
        self.tokens = tokens(query)
        self.i = 0
        self.depth = 0

    def peek(self) -> Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def expect_operand(self, after: Token) -> None:
        token = self.peek()
        if token is None or token.kind not in STARTS_OPERAND:
            column = token.column if token else len(self.query) + 1
            raise QueryError(column, f"{after.text!r} must be followed by a term")

    def nest(self, token: Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise QueryError(token.column, "the query is nested too deeply")

    def parse(self) -> Node:
        if not self.tokens:
            raise QueryError(1, "empty query")
        node = self.or_(None)
        token = self.peek()
        if token is not None:
            raise QueryError(token.column, "unbalanced parenthesis")
        return node

    def or_(self, scope: str | None) -> Node:
        parts = [self.and_(scope)]
        while (token := self.peek()) is not None and token.kind == "OR":
            self.take()
            self.expect_operand(token)
            parts.append(self.and_(scope))
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def and_(self, scope: str | None) -> Node:
        parts = [self.unary(scope)]
        while (token := self.peek()) is not None and token.kind in (STARTS_OPERAND | {"AND"}):
            if token.kind == "AND":
                self.take()
                self.expect_operand(token)
            parts.append(self.unary(scope))
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def unary(self, scope: str | None) -> Node:
        token = self.peek()
        if token is not None and token.kind in ("NOT", "-"):
            self.take()
            self.expect_operand(token)
            self.nest(token)
            child = self.unary(scope)
            self.depth -= 1
            return Not(child, token.column)
        return self.near(scope)

    def near(self, scope: str | None) -> Node:
        first = self.peek()
        left_column = first.column if first is not None else 0
        node = self.primary(scope)
        token = self.peek()
        if token is not None and token.kind == "NEAR":
            self.take()
            self.expect_operand(token)
            right_column = self.tokens[self.i].column
            if self.tokens[self.i].kind in ("-", "NOT"):
                raise QueryError(right_column, "NEAR joins two terms (words, phrases or prefixes)")
            right = self.primary(scope)
            if not isinstance(node, TermNode):
                raise QueryError(left_column, "NEAR joins two terms (words, phrases or prefixes)")
            if not isinstance(right, TermNode):
                raise QueryError(right_column, "NEAR joins two terms (words, phrases or prefixes)")
            if node.field != right.field and None not in (node.field, right.field):
                raise QueryError(token.column, "NEAR joins two terms in the same field")
            following = self.peek()
            if following is not None and following.kind == "NEAR":
                message = "NEAR joins two terms; join NEAR pairs with AND"
                raise QueryError(following.column, message)
            return Near(node, right, token.value, token.column)
        return node

    def primary(self, scope: str | None) -> Node:
        token = self.peek()
        if token is None:
            raise QueryError(len(self.query) + 1, "the query ends where a term was expected")
        if token.kind == "field":
            self.take()
            following = self.peek()
            if following is None or following.column - 1 != token.end:
                raise QueryError(token.column, f"'{token.text}:' must be followed by a term")
            if following.kind not in ("word", "phrase", "("):
                raise QueryError(following.column, f"'{token.text}:' must be followed by a term")
            if scope is not None:
                raise QueryError(token.column, "field scopes cannot be nested")
            return self.primary(token.text)
        if token.kind == "(":
            self.take()
            self.nest(token)
            closing = self.peek()
            if closing is not None and closing.kind == ")":
                raise QueryError(token.column, "empty parentheses")
            node = self.or_(scope)
            closing = self.peek()
            if closing is None or closing.kind != ")":
                raise QueryError(token.column, "unbalanced parenthesis")
            self.take()
            self.depth -= 1
            return node
        if token.kind in ("word", "phrase"):
            self.take()
            try:
                term = Term.parse(token.text)
            except ValueError as exc:
                raise QueryError(token.column, str(exc)) from None
            return TermNode(term, scope, token.column)
        if token.kind == ")":
            raise QueryError(token.column, "unbalanced parenthesis")
        raise QueryError(token.column, f"{token.text!r} must come between two terms")


def parse_query(query: str) -> Node:
    """Parse query text into a tree; QueryError (a ValueError) with the column if invalid."""
    return _Parser(query).parse()
