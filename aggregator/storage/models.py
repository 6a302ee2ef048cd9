"""SQLModel tables: the database schema and nothing else.

Rows never leave `storage/`; the query modules convert them to `aggregator.types`.
No `from __future__ import annotations` here: SQLModel reads the annotations at runtime.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, Integer, MetaData, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from aggregator.storage.columns import UTCDateTime

# Named constraints so that later migrations (batch mode on SQLite) can drop and alter them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION
metadata: MetaData = SQLModel.metadata

# BigInteger ids on PostgreSQL, INTEGER (rowid alias) on SQLite.
_ID = BigInteger().with_variant(Integer(), "sqlite")


def _utc(nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime(), nullable=nullable, index=index)


class Feed(SQLModel, table=True):
    __tablename__ = "feeds"

    id: int | None = Field(default=None, sa_type=_ID, primary_key=True)
    name: str = Field(max_length=200, unique=True)
    url: str = Field(max_length=2048)
    etag: str | None = Field(default=None, max_length=1024)
    last_modified: str | None = Field(default=None, max_length=200)
    last_fetched_at: datetime | None = _utc()
    next_poll_at: datetime | None = _utc(index=True)
    last_status: int | None = None
    consecutive_errors: int = Field(default=0)
    last_error: str | None = Field(default=None, sa_type=Text)
    last_error_at: datetime | None = _utc()
    created_at: datetime = Field(sa_type=UTCDateTime(), nullable=False)
    removed_at: datetime | None = _utc()


class Entry(SQLModel, table=True):
    __tablename__ = "entries"
    __table_args__ = (
        UniqueConstraint("feed_id", "entry_key"),
        Index("ix_entries_canonical_url", "canonical_url"),
    )

    id: int | None = Field(default=None, sa_type=_ID, primary_key=True)
    feed_id: int = Field(sa_type=_ID, foreign_key="feeds.id", ondelete="CASCADE", index=True)
    entry_key: str = Field(max_length=600)
    link: str | None = Field(default=None, sa_type=Text)
    canonical_url: str | None = Field(default=None, max_length=2048)
    title: str = Field(default="", sa_type=Text)
    summary: str = Field(default="", sa_type=Text)
    content: str = Field(default="", sa_type=Text)
    author: str = Field(default="", sa_type=Text)
    categories: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    published: datetime | None = _utc()
    updated: datetime | None = _utc()
    content_hash: str = Field(max_length=64)
    first_seen_at: datetime = Field(sa_type=UTCDateTime(), nullable=False)
    last_changed_at: datetime = Field(sa_type=UTCDateTime(), nullable=False)
