"""Queries on the entries table: insert new entries, update changed ones, count them.

Identity is (feed, entry key); an entry seen again with the same content hash is left
alone, one with a different hash is updated in place. Never commits, never does I/O
beyond the session it is given.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from aggregator.storage.models import Entry
from aggregator.types import EntryData

# Keeps IN (...) lists under SQLite's and PostgreSQL's parameter limits.
_CHUNK = 500


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


def _existing(session: Session, feed_id: int, keys: Sequence[str]) -> dict[str, Entry]:
    found: dict[str, Entry] = {}
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start : start + _CHUNK]
        query = select(Entry).where(Entry.feed_id == feed_id, col(Entry.entry_key).in_(chunk))
        found.update((row.entry_key, row) for row in session.exec(query).all())
    return found


def _apply(row: Entry, data: EntryData, now: datetime) -> None:
    row.link = data.link
    row.canonical_url = data.canonical_url
    row.title = data.title
    row.summary = data.summary
    row.content = data.content
    row.author = data.author
    row.categories = list(data.categories)
    row.published = data.published
    row.updated = data.updated
    row.content_hash = data.content_hash
    row.last_changed_at = now


def store_entries(
    session: Session, feed_id: int, entries: Iterable[EntryData], now: datetime
) -> list[StoredEntry]:
    """Insert unseen entries and update changed ones; returns what changed."""
    unique = _unique_by_key(entries)
    existing = _existing(session, feed_id, [e.entry_key for e in unique])
    touched: list[tuple[Entry, EntryData, bool]] = []
    for data in unique:
        row = existing.get(data.entry_key)
        if row is None:
            row = Entry(
                feed_id=feed_id,
                entry_key=data.entry_key,
                content_hash=data.content_hash,
                first_seen_at=now,
                last_changed_at=now,
            )
            _apply(row, data, now)
            session.add(row)
            touched.append((row, data, False))
        elif row.content_hash != data.content_hash:
            _apply(row, data, now)
            touched.append((row, data, True))
    session.flush()
    return [StoredEntry(row.id, data, upd) for row, data, upd in touched if row.id is not None]


def count_entries(session: Session, feed_id: int | None = None) -> int:
    query = select(func.count()).select_from(Entry)
    if feed_id is not None:
        query = query.where(Entry.feed_id == feed_id)
    return int(session.exec(query).one())
