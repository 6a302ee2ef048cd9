"""Queries behind story clustering: URL owners, LSH band candidates, roots and merges.

Responsible for reading what `aggregator.dedup` needs to place a feed's new entries (the
story that already owns each canonical URL, the stories sharing a band key inside the
window, their signatures and roots) in one query each, whose cost does not grow with the
history (index seeks on `story_bands`' primary key and on canonical URLs), and for
writing its outcome: band rows of new stories, and merges. A poll runs these for every
feed with news, so statements are built once, and the two that handle twenty rows per
entry (band lookups and inserts) go straight to the driver.

A merge points the absorbed story, and every story already merged into it, at the
survivor, and moves its entries there, so `merged_into` is one hop to a root (longer
only after two instances merged the same stories at once; `roots` follows such chains).
Matches stay where they are: `outbox` counts the matches of every story merged into a
root as the root's. Never commits.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, or_, select, union_all, update
from sqlmodel import Session

from aggregator.dedup import KnownStory
from aggregator.storage.models import Entry, Story, StoryBand

_CHUNK = 500
_MAX_HOPS = 8
_BANDS = StoryBand.__table__  # type: ignore[attr-defined]
_STORIES = Story.__table__  # type: ignore[attr-defined]
_ENTRIES = Entry.__table__  # type: ignore[attr-defined]
_S, _E, _B = _STORIES.c, _ENTRIES.c, _BANDS.c

_PARENTS = select(_S.id, _S.merged_into).where(_S.id.in_(bindparam("ids", expanding=True)))
_OWNERS = union_all(
    select(_S.canonical_url, _S.id, _S.merged_into).where(
        _S.canonical_url.in_(bindparam("urls", expanding=True))
    ),
    select(_E.canonical_url, _S.id, _S.merged_into)
    .join(_STORIES, _S.id == _E.story_id)
    .where(_E.canonical_url.in_(bindparam("urls", expanding=True))),
)
_KNOWN = select(_S.id, _S.merged_into, _S.signature, _S.created_at).where(
    _S.id.in_(bindparam("ids", expanding=True)),
    _S.created_at >= bindparam("since"),
    _S.signature.is_not(None),
)
_GROUP = select(_S.id).where(or_(_S.id == bindparam("root"), _S.merged_into == bindparam("root")))


def _chunks(values: Iterable[Any]) -> Iterator[list[Any]]:
    items = list(values)
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def roots(session: Session, ids: Collection[int]) -> dict[int, int]:
    """story id -> the root it resolves to (itself when not merged)."""
    resolved = {i: i for i in ids}
    pending = set(ids)
    for _ in range(_MAX_HOPS):
        parents: dict[int, int] = {}
        for chunk in _chunks(pending):
            rows = session.execute(_PARENTS, {"ids": chunk})
            parents.update((int(i), int(p)) for i, p in rows if p is not None)
        if not parents:
            break
        for story_id, root in resolved.items():
            resolved[story_id] = parents.get(root, root)
        pending = set(parents.values())
    return resolved


def root_of(session: Session, story_id: int) -> int:
    return roots(session, [story_id])[story_id]


def url_owners(session: Session, urls: Collection[str]) -> dict[str, int]:
    """canonical URL -> root of the story that has it (as its own or an entry's URL)."""
    owners: dict[str, int] = {}
    for chunk in _chunks(urls):
        for url, story_id, parent in session.execute(_OWNERS, {"urls": chunk}):
            owners.setdefault(str(url), int(parent if parent is not None else story_id))
    return owners


def band_hits(session: Session, keys: Collection[int]) -> dict[int, list[int]]:
    """band key -> the stories that have it (`known_stories` then keeps the window's).

    Twenty keys per new entry: straight to the driver, as SQLAlchemy's expansion of an
    IN list of hundreds of parameters cost more than the index seeks."""
    hits: dict[int, list[int]] = {}
    connection = session.connection()
    mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    for chunk in _chunks(keys):
        marks = ", ".join([mark] * len(chunk))
        sql = f"SELECT band_key, story_id FROM story_bands WHERE band_key IN ({marks})"
        for key, story_id in connection.exec_driver_sql(sql, tuple(chunk)).all():
            hits.setdefault(int(key), []).append(int(story_id))
    return hits


def known_stories(session: Session, ids: Collection[int], since: datetime) -> dict[int, KnownStory]:
    """The candidate stories created since `since` that have a signature, with roots."""
    known: dict[int, KnownStory] = {}
    for chunk in _chunks(ids):
        for i, parent, signature, created in session.execute(
            _KNOWN, {"ids": chunk, "since": since}
        ):
            root = int(parent) if parent is not None else int(i)
            known[int(i)] = KnownStory(int(i), root, bytes(signature), created)
    return known


def add_bands(session: Session, bands: Mapping[int, Iterable[int]]) -> None:
    """Index stories (story id -> band keys).

    Twenty rows per new story, so this goes straight to the driver (SQLAlchemy's
    per-row parameter processing cost as much as the inserts), in key order."""
    rows = sorted((key, story_id) for story_id, keys in bands.items() for key in keys)
    if rows:
        connection = session.connection()
        mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
        sql = f"INSERT INTO story_bands (band_key, story_id) VALUES ({mark}, {mark})"
        connection.exec_driver_sql(sql, rows)


def merge(session: Session, merges: Mapping[int, int]) -> None:
    """Absorb each story (and what it had absorbed) into its survivor, entries included."""
    for absorbed, survivor in merges.items():
        session.execute(
            update(_STORIES)
            .where(or_(_S.id == absorbed, _S.merged_into == absorbed))
            .values(merged_into=survivor)
        )
        session.execute(update(_ENTRIES).where(_E.story_id == absorbed).values(story_id=survivor))


def group_ids(session: Session, root: int) -> list[int]:
    """The root and every story merged into it."""
    return [int(i) for (i,) in session.execute(_GROUP, {"root": root})]
