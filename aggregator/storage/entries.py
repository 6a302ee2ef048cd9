"""Queries on the entries table: insert new entries, update changed ones, count them.

Identity is (feed, entry key); an entry seen again with the same content hash is left
alone, one with a different hash is updated in place. Writes go through SQLAlchemy Core
in batches (one INSERT ... RETURNING for the new entries of a feed, one executemany
UPDATE for the changed ones): the ORM's per-object bookkeeping dominated a first poll.
Never commits, never does I/O beyond the session it is given.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, update
from sqlmodel import Session, col, select

from aggregator.storage.models import Entry
from aggregator.types import EntryData

# Keeps IN (...) lists under SQLite's and PostgreSQL's parameter limits.
_CHUNK = 500
_TABLE = Entry.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class StoredEntry:
    """An entry that this write created or changed, with its database id."""

    id: int
    data: EntryData
    is_update: bool


def _unique_by_key(entries: Iterable[EntryData]) -> list[EntryData]:
    """The first occurrence of each entry key: feeds sometimes repeat an item."""
    seen: dict[str, EntryData] = {}
    for entry in entries:
        seen.setdefault(entry.entry_key, entry)
    return list(seen.values())


def _existing(session: Session, feed_id: int, keys: Sequence[str]) -> dict[str, tuple[int, str]]:
    """entry key -> (id, content hash) of the entries of `feed_id` among `keys`."""
    found: dict[str, tuple[int, str]] = {}
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start : start + _CHUNK]
        query = select(Entry.entry_key, Entry.id, Entry.content_hash).where(
            Entry.feed_id == feed_id, col(Entry.entry_key).in_(chunk)
        )
        found.update(
            (key, (int(row_id or 0), digest)) for key, row_id, digest in session.exec(query)
        )
    return found


def _values(data: EntryData, now: datetime) -> dict[str, Any]:
    return {
        "link": data.link,
        "canonical_url": data.canonical_url,
        "title": data.title,
        "summary": data.summary,
        "content": data.content,
        "author": data.author,
        "categories": list(data.categories),
        "published": data.published,
        "updated": data.updated,
        "content_hash": data.content_hash,
        "last_changed_at": now,
    }


def _insert(session: Session, feed_id: int, new: list[EntryData], now: datetime) -> list[int]:
    if not new:
        return []
    rows = [
        {**_values(d, now), "feed_id": feed_id, "entry_key": d.entry_key, "first_seen_at": now}
        for d in new
    ]
    stmt = insert(_TABLE).returning(_TABLE.c.id, sort_by_parameter_order=True)
    return [int(row[0]) for row in session.execute(stmt, rows)]


def _update(session: Session, changed: list[tuple[int, EntryData]], now: datetime) -> None:
    if not changed:
        return
    fields = _values(changed[0][1], now).keys()
    stmt = (
        update(_TABLE)
        .where(_TABLE.c.id == bindparam("_id"))
        .values({name: bindparam(f"_{name}") for name in fields})
    )
    params = [
        {"_id": row_id, **{f"_{k}": v for k, v in _values(d, now).items()}} for row_id, d in changed
    ]
    session.connection().execute(stmt, params)


def store_entries(
    session: Session, feed_id: int, entries: Iterable[EntryData], now: datetime
) -> list[StoredEntry]:
    """Insert unseen entries and update changed ones; returns what changed."""
    unique = _unique_by_key(entries)
    existing = _existing(session, feed_id, [e.entry_key for e in unique])
    new = [d for d in unique if d.entry_key not in existing]
    changed = [
        (existing[d.entry_key][0], d)
        for d in unique
        if d.entry_key in existing and existing[d.entry_key][1] != d.content_hash
    ]
    new_ids = _insert(session, feed_id, new, now)
    _update(session, changed, now)
    stored = [StoredEntry(i, d, False) for i, d in zip(new_ids, new, strict=True)]
    return stored + [StoredEntry(i, d, True) for i, d in changed]


def count_entries(session: Session, feed_id: int | None = None) -> int:
    query = select(func.count()).select_from(Entry)
    if feed_id is not None:
        query = query.where(Entry.feed_id == feed_id)
    return int(session.exec(query).one())
