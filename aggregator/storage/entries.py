"""Queries on the entries table: which entries are new or changed, and writing them.

Identity is (feed, entry key); an entry seen again with the same content hash is left
alone, one with a different hash is updated in place. Writes go through SQLAlchemy Core
in batches (one executemany INSERT ... RETURNING for a feed's new entries, one
executemany UPDATE for its changed ones): the ORM's per-object bookkeeping dominated a
first poll. Never commits, never does I/O beyond the session it is given.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlmodel import Session
from sqlmodel import select as orm_select

from aggregator.storage.models import Entry, EntryTombstone
from aggregator.storage.upsert import insert_ignoring_conflicts
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


@dataclass(frozen=True, slots=True)
class Known:
    id: int
    content_hash: str
    story_id: int | None


@dataclass(slots=True)
class EntryDiff:
    """What a fetched batch changes: unseen entries, and changed ones with what is stored."""

    new: list[EntryData] = field(default_factory=list)
    changed: list[tuple[Known, EntryData]] = field(default_factory=list)


def _unique_by_key(entries: Iterable[EntryData]) -> list[EntryData]:
    """The first occurrence of each entry key: feeds sometimes repeat an item."""
    seen: dict[str, EntryData] = {}
    for entry in entries:
        seen.setdefault(entry.entry_key, entry)
    return list(seen.values())


_E, _T = _TABLE.c, EntryTombstone.__table__.c  # type: ignore[attr-defined]
# Built once: ORM selects rebuilt per feed cost more than the index seeks they run.
_KNOWN = select(_E.entry_key, _E.id, _E.content_hash, _E.story_id).where(
    _E.feed_id == bindparam("feed"), _E.entry_key.in_(bindparam("keys", expanding=True))
)
_TOMBSTONED = select(_T.entry_key).where(
    _T.feed_id == bindparam("feed"), _T.entry_key.in_(bindparam("keys", expanding=True))
)


def _known(session: Session, feed_id: int, keys: Sequence[str]) -> dict[str, Known]:
    found: dict[str, Known] = {}
    connection = session.connection()
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start : start + _CHUNK]
        for key, row_id, digest, story_id in connection.execute(
            _KNOWN, {"feed": feed_id, "keys": chunk}
        ):
            found[key] = Known(int(row_id or 0), digest, story_id)
    return found


def _tombstoned(session: Session, feed_id: int, keys: Sequence[str]) -> set[str]:
    found: set[str] = set()
    connection = session.connection()
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start : start + _CHUNK]
        rows = connection.execute(_TOMBSTONED, {"feed": feed_id, "keys": chunk})
        found.update(key for (key,) in rows)
    return found


def diff_entries(session: Session, feed_id: int, entries: Iterable[EntryData]) -> EntryDiff:
    """New and changed entries; a key pruned by retention (tombstoned) counts as known and
    unchanged, whatever its content now, so it is never stored or matched again."""
    unique = _unique_by_key(entries)
    known = _known(session, feed_id, [e.entry_key for e in unique])
    unknown = [e.entry_key for e in unique if e.entry_key not in known]
    pruned = _tombstoned(session, feed_id, unknown) if unknown else set()
    diff = EntryDiff()
    for data in unique:
        stored = known.get(data.entry_key)
        if stored is None and data.entry_key in pruned:
            continue
        if stored is None:
            diff.new.append(data)
        elif stored.content_hash != data.content_hash:
            diff.changed.append((stored, data))
    return diff


def _values(data: EntryData, story_id: int | None, now: datetime) -> dict[str, Any]:
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
        "story_id": story_id,
    }


def insert_new(
    session: Session,
    feed_id: int,
    new: Sequence[EntryData],
    stories: Mapping[str, int],
    now: datetime,
) -> list[StoredEntry]:
    """Insert unseen entries, each with its story (by entry key); returns those inserted.

    An entry another instance inserted meanwhile is skipped (ON CONFLICT DO NOTHING on
    the feed and entry key): it is that instance's to match and alert on.
    """
    if not new:
        return []
    rows = [
        {
            **_values(d, stories.get(d.entry_key), now),
            "feed_id": feed_id,
            "entry_key": d.entry_key,
            "first_seen_at": now,
        }
        for d in new
    ]
    stmt = insert_ignoring_conflicts(session, _TABLE).returning(_TABLE.c.id, _TABLE.c.entry_key)
    ids = {str(key): int(row_id) for row_id, key in session.execute(stmt, rows)}
    return [StoredEntry(ids[d.entry_key], d, False) for d in new if d.entry_key in ids]


def update_changed(
    session: Session,
    changed: Sequence[tuple[Known, EntryData]],
    stories: Mapping[str, int],
    now: datetime,
) -> list[StoredEntry]:
    if not changed:
        return []
    params = []
    for known, data in changed:
        values = _values(data, stories.get(data.entry_key, known.story_id), now)
        params.append({"_id": known.id, **{f"_{k}": v for k, v in values.items()}})
    fields = [k for k in params[0] if k != "_id"]
    stmt = (
        update(_TABLE)
        .where(_TABLE.c.id == bindparam("_id"))
        .values({name[1:]: bindparam(name) for name in fields})
    )
    session.connection().execute(stmt, params)
    return [StoredEntry(known.id, data, True) for known, data in changed]


def count_entries(session: Session, feed_id: int | None = None) -> int:
    query = orm_select(func.count()).select_from(Entry)
    if feed_id is not None:
        query = query.where(Entry.feed_id == feed_id)
    return int(session.exec(query).one())
