"""Queries over stored entries for backtests and search: full-text candidates, newest first.

Responsible for turning a `prefilter.Requirement` into the database's full-text syntax
(SQLite FTS5 over the `entries_fts` external-content table; PostgreSQL tsquery over
the GIN index `ix_entries_fts` on to_tsvector('simple', ...)), and for reading the
candidate entries, with their feed, one page at a time, newest first. Both the table
and the index are made by the migration `a9f3c2d1e8b7`; their names are here so that
alembic/env.py can leave them out of autogenerate.

Must not: decide whether an entry matches (the matcher does, on what this returns),
commit, or do anything but read.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, literal_column, or_, select, text
from sqlmodel import Session, col

from aggregator.match.prefilter import Both, Requirement, Words
from aggregator.storage.models import Entry, Feed

__all__ = [
    "FTS_TABLE",
    "PG_DOCUMENT",
    "PG_FTS_INDEX",
    "SearchRow",
    "candidates",
    "fts5_query",
    "is_search_index",
    "tsquery",
]

FTS_TABLE = "entries_fts"
PG_FTS_INDEX = "ix_entries_fts"
PG_DOCUMENT = (
    "entries.title || ' ' || entries.summary || ' ' || entries.content || ' ' || "
    "entries.author || ' ' || (entries.categories::jsonb)::text"
)
"""The text the PostgreSQL index holds; queries must use the very same expression."""


def is_search_index(name: str | None, type_: str) -> bool:
    """True for the full-text table, its shadow tables and the expression index."""
    if name is None:
        return False
    if type_ == "table":
        return name == FTS_TABLE or name.startswith(FTS_TABLE + "_")
    return type_ == "index" and name == PG_FTS_INDEX


@dataclass(frozen=True, slots=True)
class SearchRow:
    """One stored entry as backtests and search read it."""

    id: int
    feed: str
    story_id: int | None
    title: str
    link: str | None
    summary: str
    content: str
    author: str
    categories: tuple[str, ...]
    when: datetime  # published, else first seen

    def fields(self) -> dict[str, str]:
        """The entry as `Matcher.match` takes it, the feed's name included."""
        return {
            "title": self.title,
            "summary": self.summary,
            "content": self.content,
            "author": self.author,
            "categories": "\n".join(self.categories),
            "feed": self.feed,
        }


def fts5_query(req: Requirement) -> str:
    """SQLite FTS5 syntax: "a b" for a phrase, "a b"* for a prefix, AND, OR."""
    if isinstance(req, Words):
        return '"' + " ".join(req.words) + '"' + ("*" if req.prefix else "")
    joiner = " AND " if isinstance(req, Both) else " OR "
    return "(" + joiner.join(fts5_query(part) for part in req.parts) + ")"


def tsquery(req: Requirement) -> str:
    """PostgreSQL tsquery syntax: a <-> b for a phrase, a:* for a prefix, &, |."""
    if isinstance(req, Words):
        words = list(req.words)
        if req.prefix:
            words[-1] += ":*"
        return " <-> ".join(words)
    joiner = " & " if isinstance(req, Both) else " | "
    return "(" + joiner.join(tsquery(part) for part in req.parts) + ")"


def _matching(session: Session, req: Requirement) -> ColumnElement[bool]:
    if session.get_bind().dialect.name == "sqlite":
        ids: Select[Any] = (
            select(literal_column("rowid"))
            .select_from(text(FTS_TABLE))
            .where(text(f"{FTS_TABLE} MATCH :fts").bindparams(fts=fts5_query(req)))
        )
        return col(Entry.id).in_(ids)
    condition = f"to_tsvector('simple', {PG_DOCUMENT}) @@ to_tsquery('simple', :fts)"
    return text(condition).bindparams(fts=tsquery(req))  # type: ignore[return-value]


def candidates(
    session: Session,
    req: Requirement | None,
    *,
    since: datetime | None = None,
    feeds: Collection[str] | None = None,
    before: tuple[datetime, int] | None = None,
    limit: int = 1000,
    by_id: bool = False,
) -> list[SearchRow]:
    """Entries that may satisfy `req` (all entries if None), newest first, one page.

    `before` is the (when, id) of the last row of the previous page. With `by_id`, the
    pages go by id instead, newest stored first: no sort of the whole table per page
    (when nothing narrows the scan, that sort is most of a backtest's time).
    """
    when = func.coalesce(col(Entry.published), col(Entry.first_seen_at))
    columns: list[Any] = [
        Entry.id,
        Feed.name,
        Entry.story_id,
        Entry.title,
        Entry.link,
        Entry.summary,
        Entry.content,
        Entry.author,
        Entry.categories,
        when,
    ]
    query = select(*columns).join(Feed, col(Feed.id) == col(Entry.feed_id))
    if req is not None:
        query = query.where(_matching(session, req))
    if since is not None:
        query = query.where(when >= since)
    if feeds is not None:
        query = query.where(col(Feed.name).in_(list(feeds)))
    if by_id:
        if before is not None:
            query = query.where(col(Entry.id) < before[1])
        query = query.order_by(col(Entry.id).desc()).limit(limit)
    else:
        if before is not None:
            moment, last_id = before
            newer = and_(when == moment, col(Entry.id) < last_id)
            query = query.where(or_(when < moment, newer))
        query = query.order_by(when.desc(), col(Entry.id).desc()).limit(limit)
    return [
        SearchRow(
            id=row[0],
            feed=row[1],
            story_id=row[2],
            title=row[3],
            link=row[4],
            summary=row[5],
            content=row[6],
            author=row[7],
            categories=tuple(row[8] or ()),
            when=row[9],
        )
        for row in session.execute(query).all()
    ]
