"""A watchlist as one boolean expression over terms: building, evaluating, explaining it.

Responsible for:

* `WatchlistSpec`: the matching part of a configured watchlist (name, `any`, `all`,
  `none`, `query`).
* `build_expression`: a spec -> one expression tree (`Leaf`, `Prox`, `AllOf`, `AnyOf`,
  `Neg`): `query AND (any...) AND all... AND NOT none...`, every term parsed and every
  field scope turned into a bit mask over `ALL_FIELDS`. A spec that would match an entry
  containing none of its terms (only NOT terms) is refused: the matcher evaluates a
  watchlist only when one of its terms occurred, and this rule makes that exact.
* `compile_test` and `witnesses`: given the terms found in one entry (`Evidence`),
  whether the expression holds, and which positive terms made it hold (for `matched`
  and the highlights).

Must not: scan text, build snippets or know about the automaton (that is matcher.py);
do I/O or import storage, settings or alert code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Final, Protocol

from aggregator.match import query as q
from aggregator.match.query import QueryError, Term, parse_query

__all__ = [
    "ALL_FIELDS",
    "FIELDS",
    "AllOf",
    "AnyOf",
    "Evidence",
    "Leaf",
    "Neg",
    "Node",
    "Prox",
    "WatchlistSpec",
    "bind",
    "build_expression",
    "compile_test",
    "holds",
    "leaves",
    "witnesses",
]

FIELDS: Final = ("title", "summary", "content", "author", "categories")
"""The text fields an entry is matched in, in the order highlights report them."""

ALL_FIELDS: Final = (*FIELDS, "feed")
"""FIELDS and the feed's name, which only `feed:` terms look at."""

FIELD_BIT: Final = {name: 1 << n for n, name in enumerate(ALL_FIELDS)}
TEXT_MASK: Final = sum(FIELD_BIT[name] for name in FIELDS)

Occurrence = tuple[int, int, int]  # (field number, segment number, start in the scan)


@dataclass(frozen=True, slots=True)
class WatchlistSpec:
    """What the matcher needs from a configured watchlist.

    It matches when `query` holds (if given), any `any` term occurs (if given), every
    `all` term occurs and no `none` term occurs.
    """

    name: str
    any: tuple[str, ...] = ()
    all: tuple[str, ...] = ()
    none: tuple[str, ...] = ()
    query: str | None = None


@dataclass(frozen=True, slots=True)
class Leaf:
    """A term that must occur in one of the fields in `mask`; `label` is how it is shown."""

    term: Term
    mask: int
    label: str
    order: int  # position of `label` among the watchlist's labels
    tid: int = -1  # the matcher's id for `term`, set by `bind`


@dataclass(frozen=True, slots=True)
class Prox:
    """Both terms in one field with at most `distance` words between them."""

    left: Leaf
    right: Leaf
    distance: int


@dataclass(frozen=True, slots=True)
class AllOf:
    parts: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    parts: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Neg:
    part: Node


Node = Leaf | Prox | AllOf | AnyOf | Neg


class Evidence(Protocol):
    """What one scanned entry offers the evaluation."""

    masks: dict[int, int]  # term id -> bits of the fields it occurs in

    def near(
        self, left: int, right: int, distance: int, mask: int
    ) -> tuple[Occurrence, Occurrence] | None: ...


class _Labels:
    def __init__(self) -> None:
        self.order: dict[str, int] = {}

    def leaf(self, term: Term, mask: int, label: str) -> Leaf:
        return Leaf(term, mask, label, self.order.setdefault(label, len(self.order)))


def _from_query(node: q.Node, labels: _Labels) -> Node:
    if isinstance(node, q.TermNode):
        mask = FIELD_BIT[node.field] if node.field else TEXT_MASK
        return labels.leaf(node.term, mask, node.term.raw)
    if isinstance(node, q.Near):
        left, right = _from_query(node.left, labels), _from_query(node.right, labels)
        assert isinstance(left, Leaf) and isinstance(right, Leaf)
        if not left.mask & right.mask:
            raise QueryError(node.column, "NEAR joins two terms in the same field")
        mask = left.mask & right.mask
        return Prox(
            Leaf(left.term, mask, left.label, left.order),
            Leaf(right.term, mask, right.label, right.order),
            node.distance,
        )
    if isinstance(node, q.Not):
        return Neg(_from_query(node.child, labels))
    parts = tuple(_from_query(child, labels) for child in node.children)
    return AllOf(parts) if isinstance(node, q.And) else AnyOf(parts)


def _terms(name: str, key: str, raws: tuple[str, ...]) -> list[Term]:
    if isinstance(raws, str):
        raise ValueError(f"watchlist {name!r}: `{key}` must be a list of terms")
    return [Term.parse(raw) for raw in dict.fromkeys(raws)]  # identical strings count once


def build_expression(spec: WatchlistSpec) -> Node:
    """The spec as one expression; QueryError (with a column) or ValueError if invalid."""
    labels = _Labels()
    parts: list[Node] = []
    if spec.query is not None:
        parts.append(_from_query(parse_query(spec.query), labels))
    anys = _terms(spec.name, "any", spec.any)
    if anys:
        parts.append(AnyOf(tuple(labels.leaf(t, TEXT_MASK, t.raw) for t in anys)))
    parts.extend(labels.leaf(t, TEXT_MASK, t.raw) for t in _terms(spec.name, "all", spec.all))
    nones = _terms(spec.name, "none", spec.none)
    parts.extend(Neg(labels.leaf(t, TEXT_MASK, t.raw)) for t in nones)
    if not parts:
        raise ValueError(f"watchlist {spec.name!r} has no terms")
    node = parts[0] if len(parts) == 1 else AllOf(tuple(parts))
    if _holds_on_nothing(node):
        raise ValueError(
            f"watchlist {spec.name!r} would match entries that contain none of its terms "
            "(only NOT terms); add a term that must occur"
        )
    return node


def _holds_on_nothing(node: Node) -> bool:
    if isinstance(node, Leaf | Prox):
        return False
    if isinstance(node, Neg):
        return not _holds_on_nothing(node.part)
    results = (_holds_on_nothing(part) for part in node.parts)
    return all(results) if isinstance(node, AllOf) else any(results)


def leaves(node: Node) -> Iterator[Leaf]:
    """Every leaf of the expression, in order (NEAR's two terms included)."""
    if isinstance(node, Leaf):
        yield node
    elif isinstance(node, Prox):
        yield node.left
        yield node.right
    elif isinstance(node, Neg):
        yield from leaves(node.part)
    else:
        for part in node.parts:
            yield from leaves(part)


def bind(node: Node, tid: Callable[[Term], int]) -> Node:
    """The same expression with every leaf's `tid` set."""
    if isinstance(node, Leaf):
        return replace(node, tid=tid(node.term))
    if isinstance(node, Prox):
        left, right = bind(node.left, tid), bind(node.right, tid)
        assert isinstance(left, Leaf) and isinstance(right, Leaf)
        return Prox(left, right, node.distance)
    if isinstance(node, Neg):
        return Neg(bind(node.part, tid))
    return type(node)(tuple(bind(part, tid) for part in node.parts))


Test = Callable[[Evidence], bool]


def compile_test(node: Node) -> Test:
    """A closure deciding whether a bound expression holds for one entry's evidence."""
    if isinstance(node, Leaf):
        t, mask = node.tid, node.mask
        return lambda ev: bool(ev.masks.get(t, 0) & mask)
    if isinstance(node, Prox):
        a, b, d, m = node.left.tid, node.right.tid, node.distance, node.left.mask
        return lambda ev: ev.near(a, b, d, m) is not None
    if isinstance(node, Neg):
        inner = compile_test(node.part)
        return lambda ev: not inner(ev)
    if isinstance(node, AnyOf) and all(isinstance(p, Leaf) for p in node.parts):
        pairs = tuple((p.tid, p.mask) for p in node.parts if isinstance(p, Leaf))
        return lambda ev: any(ev.masks.get(t, 0) & m for t, m in pairs)
    tests = tuple(compile_test(part) for part in node.parts)
    if isinstance(node, AllOf):
        return lambda ev: all(test(ev) for test in tests)
    return lambda ev: any(test(ev) for test in tests)


def holds(node: Node, ev: Evidence) -> bool:
    """Whether a bound expression holds (the slow twin of `compile_test`)."""
    if isinstance(node, Leaf):
        return bool(ev.masks.get(node.tid, 0) & node.mask)
    if isinstance(node, Prox):
        return ev.near(node.left.tid, node.right.tid, node.distance, node.left.mask) is not None
    if isinstance(node, Neg):
        return not holds(node.part, ev)
    if isinstance(node, AllOf):
        return all(holds(part, ev) for part in node.parts)
    return any(holds(part, ev) for part in node.parts)


Witness = tuple[Leaf, Occurrence | None]  # a leaf, and its occurrence if it is fixed


def witnesses(node: Node, ev: Evidence) -> list[Witness]:
    """The positive terms that make a bound `node` hold; call it only where it holds.

    A leaf is a witness in every field of its mask where it occurs (occurrence None);
    NEAR gives the occurrences of its first qualifying pair. Under OR, only the parts
    that hold count; under NOT, nothing does.
    """
    if isinstance(node, Leaf):
        return [(node, None)] if ev.masks.get(node.tid, 0) & node.mask else []
    if isinstance(node, Prox):
        left, right = node.left, node.right
        pair = ev.near(left.tid, right.tid, node.distance, left.mask)
        return [] if pair is None else [(left, pair[0]), (right, pair[1])]
    if isinstance(node, Neg):
        return []
    found: list[Witness] = []
    masks, every = ev.masks, isinstance(node, AllOf)
    for part in node.parts:
        if isinstance(part, Leaf):
            if masks.get(part.tid, 0) & part.mask:
                found.append((part, None))
        elif every or holds(part, ev):
            found.extend(witnesses(part, ev))
    return found
