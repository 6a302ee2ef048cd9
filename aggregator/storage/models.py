"""SQLModel tables: the database schema and nothing else.

Rows never leave `storage/`; the query modules convert them to `aggregator.types`.
No `from __future__ import annotations` here: SQLModel reads the annotations at runtime.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Text,
    UniqueConstraint,
)
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
    # Where a permanent redirect (301/308) sent us; fetched instead of `url` from then on.
    moved_to: str | None = Field(default=None, max_length=2048)
    gone_at: datetime | None = _utc()  # 410 Gone: no longer polled until its URL changes
    failing_since: datetime | None = _utc()  # first error of the current streak
    # Hash of the last body, so servers without validators don't cost a parse each time.
    body_hash: str | None = Field(default=None, max_length=64)
    learned_interval: int | None = None  # seconds, from the feed's publishing rate
    # A poll in progress: which instance claimed the feed, until when (a dead one's expires).
    lease_owner: str | None = Field(default=None, max_length=200)
    lease_expires_at: datetime | None = _utc()


class Instance(SQLModel, table=True):
    """A running `aggregator run`: who it is and when it last said it was alive."""

    __tablename__ = "instances"

    id: str = Field(primary_key=True, max_length=200)
    hostname: str = Field(max_length=200)
    pid: int
    version: str = Field(max_length=50)
    started_at: datetime = Field(sa_type=UTCDateTime(), nullable=False)
    heartbeat_at: datetime = Field(sa_type=UTCDateTime(), nullable=False)
    stopped_at: datetime | None = _utc()


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
    story_id: int | None = Field(
        default=None, sa_type=_ID, foreign_key="stories.id", ondelete="SET NULL", index=True
    )


class Story(SQLModel, table=True):
    """One piece of news across feeds: entries sharing a canonical URL or near-identical
    text (aggregator.dedup). Title, url and feed are those of the entry that founded it."""

    __tablename__ = "stories"

    id: int | None = Field(default=None, sa_type=_ID, primary_key=True)
    canonical_url: str | None = Field(default=None, max_length=2048, unique=True)
    title: str = Field(default="", sa_type=Text)
    url: str | None = Field(default=None, sa_type=Text)
    feed_id: int = Field(sa_type=_ID, foreign_key="feeds.id", ondelete="CASCADE")
    published: datetime | None = _utc()
    created_at: datetime = Field(sa_type=UTCDateTime(), nullable=False)
    # The founding entry's bottom-k sketch (aggregator.fingerprint); None for short texts.
    signature: bytes | None = Field(default=None, sa_type=LargeBinary)
    # Set when a later entry showed this story to be part of another: the surviving root
    # (always a root: merging re-points the absorbed story's own absorbed ones). Its
    # matches stay here and still count for the root; a pruned root takes these along.
    merged_into: int | None = Field(
        default=None, sa_type=_ID, foreign_key="stories.id", ondelete="CASCADE", index=True
    )


class StoryBand(SQLModel, table=True):
    """The LSH index of story signatures: one row per (band key, story).

    The primary key is the index: a lookup by band key is one seek. Rows of stories older
    than the dedup window are pruned daily (they can never be candidates again; the
    window itself is checked on the story), which keeps the table, and the cost per
    entry, the size of about one window whatever the history. Twenty rows are written
    per new story, so rows are small: no time column (the story has it), no other index
    (the daily delete scans), and no foreign key (a row whose story was pruned simply
    finds no story).
    """

    __tablename__ = "story_bands"
    __table_args__ = ({"sqlite_with_rowid": False},)

    band_key: int = Field(sa_type=BigInteger, primary_key=True)
    story_id: int = Field(sa_type=_ID, primary_key=True)


class EntryTombstone(SQLModel, table=True):
    """An entry deleted by retention: its key stays known, so it never comes back as new."""

    __tablename__ = "entry_tombstones"

    feed_id: int = Field(sa_type=_ID, foreign_key="feeds.id", ondelete="CASCADE", primary_key=True)
    entry_key: str = Field(max_length=600, primary_key=True)
    pruned_at: datetime = Field(sa_type=UTCDateTime(), nullable=False)


class Match(SQLModel, table=True):
    """A watchlist matched a story; at most one per (watchlist, story), whatever the sources."""

    __tablename__ = "matches"
    __table_args__ = (UniqueConstraint("watchlist", "story_id"),)

    id: int | None = Field(default=None, sa_type=_ID, primary_key=True)
    watchlist: str = Field(max_length=200)
    story_id: int = Field(sa_type=_ID, foreign_key="stories.id", ondelete="CASCADE", index=True)
    entry_id: int | None = Field(
        default=None, sa_type=_ID, foreign_key="entries.id", ondelete="SET NULL", index=True
    )
    terms: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    highlights: list[dict[str, str]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    created_at: datetime = Field(sa_type=UTCDateTime(), nullable=False)


class Delivery(SQLModel, table=True):
    """The outbox: one row per (match, channel), written with the match, sent later.

    `id` is the stable delivery id (the webhook-id); retries reuse it.
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("match_id", "channel"),
        Index("ix_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: str = Field(primary_key=True, max_length=64)
    match_id: int = Field(sa_type=_ID, foreign_key="matches.id", ondelete="CASCADE", index=True)
    channel: str = Field(max_length=200)
    status: str = Field(default="pending", max_length=16)
    attempts: int = Field(default=0)
    next_attempt_at: datetime = Field(sa_type=UTCDateTime(), nullable=False)
    last_error: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = Field(sa_type=UTCDateTime(), nullable=False)
    delivered_at: datetime | None = _utc()
    lease_owner: str | None = Field(default=None, max_length=200)
    lease_expires_at: datetime | None = _utc()
