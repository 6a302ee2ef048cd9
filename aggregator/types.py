"""Frozen value objects passed between pipeline stages.

These are plain dataclasses (some pickle by position, for the trip back from the parse
workers): no I/O, no database classes, no library objects. Storage
converts its rows into these before they leave `storage/`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from operator import attrgetter
from typing import Any, cast

_FIELDS: dict[type, attrgetter[Any]] = {}


class Positional:
    """Base of the values the parse workers send back: pickled as (class, field values).

    Frozen slots dataclasses otherwise pickle through `dataclasses.fields()` on every
    object, which made sending a feed's entries to the main process (and taking them in
    there, on the poll's one busy thread) about twice as slow. Needs two or more fields.
    """

    __slots__ = ()

    def __reduce__(self) -> tuple[Any, ...]:
        cls = type(self)
        values = _FIELDS.get(cls)
        if values is None:
            names = [f.name for f in fields(cast(Any, cls))]
            values = _FIELDS[cls] = attrgetter(names[0], *names[1:])
        return cls, values(self)


@dataclass(frozen=True, slots=True)
class FeedState:
    """What the pipeline needs to know about a stored feed before fetching it."""

    id: int
    name: str
    url: str
    etag: str | None = None
    last_modified: str | None = None
    moved_to: str | None = None
    body_hash: str | None = None
    learned_interval: int | None = None
    consecutive_errors: int = 0

    @property
    def fetch_url(self) -> str:
        """Where to fetch: the permanent redirect's target once one was seen."""
        return self.moved_to or self.url


@dataclass(frozen=True, slots=True)
class FetchResult:
    """The outcome of one successful HTTP exchange (2xx with a body, or 304)."""

    url: str
    final_url: str
    status: int
    body: bytes | None
    etag: str | None = None
    last_modified: str | None = None
    content_type: str | None = None
    permanent_redirect: bool = False
    cache_control: str | None = None
    expires: str | None = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


@dataclass(frozen=True, slots=True)
class ParsedEntry:
    """One entry as the parser found it: HTML not yet reduced to text, dates in UTC."""

    guid: str | None
    link: str | None
    title: str | None
    summary_html: str | None
    content_html: str | None
    author: str | None
    categories: tuple[str, ...] = ()
    published: datetime | None = None
    updated: datetime | None = None


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A parsed feed document; `warning` is set when the document was partly broken."""

    title: str | None
    link: str | None
    entries: tuple[ParsedEntry, ...]
    warning: str | None = None
    ttl: str | None = None  # RSS <ttl>, minutes, as written


@dataclass(frozen=True, slots=True)
class EntryData(Positional):
    """A normalised entry, ready to store and to match."""

    entry_key: str
    link: str | None
    canonical_url: str | None
    title: str
    summary: str
    content: str
    author: str
    categories: tuple[str, ...]
    published: datetime | None
    updated: datetime | None
    content_hash: str


@dataclass(frozen=True, slots=True)
class Fingerprint(Positional):
    """An entry's text fingerprint for story clustering (aggregator.fingerprint).

    `signature` packs the MinHash values (4 bytes each, little-endian), `bands` are the
    LSH band keys (signed 64-bit), `size` is the number of distinct shingles.
    """

    signature: bytes
    bands: tuple[int, ...]
    size: int


@dataclass(frozen=True, slots=True)
class FeedOutcome:
    """What one poll did to one feed, for the summary a user reads."""

    name: str
    status: str  # "fetched" | "not_modified" | "failed"
    new_entries: int = 0
    updated_entries: int = 0
    error: str | None = None
    matches: int = 0


@dataclass(frozen=True, slots=True)
class PollSummary:
    """The result of polling a batch of feeds."""

    outcomes: tuple[FeedOutcome, ...] = field(default_factory=tuple)

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def new_entries(self) -> int:
        return sum(o.new_entries for o in self.outcomes)

    @property
    def updated_entries(self) -> int:
        return sum(o.updated_entries for o in self.outcomes)

    @property
    def matches(self) -> int:
        return sum(o.matches for o in self.outcomes)

    @property
    def failures(self) -> tuple[FeedOutcome, ...]:
        return tuple(o for o in self.outcomes if o.status == "failed")


@dataclass(frozen=True, slots=True)
class Highlight(Positional):
    """One term that hit, the field it hit in, and the text around it."""

    field: str
    term: str
    snippet: str


@dataclass(frozen=True, slots=True)
class MatchResult(Positional):
    """A watchlist that matched an entry: the terms that hit and where."""

    watchlist: str
    terms: tuple[str, ...]
    highlights: tuple[Highlight, ...]

    @property
    def snippet(self) -> str:
        return self.highlights[0].snippet if self.highlights else ""


@dataclass(frozen=True, slots=True)
class StorySource:
    feed: str
    url: str | None


@dataclass(frozen=True, slots=True)
class AlertStory:
    id: str
    title: str
    url: str | None
    published: datetime | None
    feed_name: str
    feed_url: str
    sources: tuple[StorySource, ...]
    snippet: str
    summary: str = ""


@dataclass(frozen=True, slots=True)
class Alert:
    """Everything a channel needs to deliver one alert; `delivery_id` is stable across retries."""

    delivery_id: str
    channel: str
    watchlist: str
    matched: tuple[str, ...]
    highlights: tuple[Highlight, ...]
    story: AlertStory
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Route(Positional):
    """A match and the channels its watchlist alerts through."""

    match: MatchResult
    channels: tuple[str, ...]
