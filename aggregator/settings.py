"""Settings: the config directory and the environment -> one validated, frozen Settings.

Responsible for: finding the config directory (--config, $AGGREGATOR_CONFIG, ./config),
reading aggregator.toml, feeds.toml and watchlists.toml (each optional), applying defaults
and environment overrides, checking every value and every cross-reference (watchlist ->
channel, watchlist tag -> feed tag, unique names), and reporting ALL problems at once as
ConfigErrors, each naming its file and key path (`feeds.toml: feeds[3].interval: ...`).

Must not: open network or database connections, log, keep module state, or let a secret
(a `*_env` value, a database password) appear in a message or repr. Field parsing lives in
settings_fields.py and channel schemas in settings_channels.py; both are re-exported here.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from aggregator import __version__
from aggregator.errors import ConfigError, ConfigErrors
from aggregator.settings_channels import (
    CHANNEL_TYPES,
    ChannelSettings,
    EmailChannel,
    LogChannel,
    WebhookChannel,
    build_channel,
)
from aggregator.settings_fields import (
    Secret,
    Table,
    as_bool,
    as_database_url,
    as_duration,
    as_http_url,
    as_log_level,
    as_name,
    as_size,
    float_in,
    int_in,
    list_of,
    parse_duration,
    parse_size,
    read_toml,
)
from aggregator.settings_watchlists import watchlist_terms

__all__ = [
    "CHANNEL_TYPES",
    "DEFAULT_CONFIG_DIR",
    "AlertSettings",
    "ChannelSettings",
    "DedupSettings",
    "EmailChannel",
    "FeedSettings",
    "HttpSettings",
    "LogChannel",
    "PollingSettings",
    "RetentionSettings",
    "Secret",
    "Settings",
    "StorageSettings",
    "WatchlistSettings",
    "WebhookChannel",
    "load_settings",
    "parse_duration",
    "parse_size",
    "resolve_config_dir",
]

DEFAULT_CONFIG_DIR = "config"
CONFIG_DIR_ENV = "AGGREGATOR_CONFIG"
STORAGE_URL_ENV = "AGGREGATOR_STORAGE_URL"
NO_STRINGS: tuple[str, ...] = ()
MAIN_FILE, FEEDS_FILE, WATCHLISTS_FILE = "aggregator.toml", "feeds.toml", "watchlists.toml"
_SQLITE_FILE_RE = re.compile(r"(sqlite(?:\+\w+)?:///)([^?]*)(\?.*)?", re.DOTALL)
_URL_PASSWORD_RE = re.compile(r"(://[^/@:]*:)[^/@]*@")


@dataclass(frozen=True, slots=True)
class StorageSettings:
    """The database. A relative sqlite path is made absolute by load_settings."""

    url: str = "sqlite:///data/aggregator.db"

    def __repr__(self) -> str:
        masked = _URL_PASSWORD_RE.sub(r"\1***@", self.url)
        return f"StorageSettings(url={masked!r})"


@dataclass(frozen=True, slots=True)
class PollingSettings:
    default_interval: timedelta = timedelta(minutes=15)  # feeds without their own interval
    concurrency: int = 64  # fetches in flight, all hosts
    per_host_concurrency: int = 8  # fetches in flight to one host
    min_interval: timedelta = timedelta(minutes=5)  # adaptive polling never goes below this
    max_interval: timedelta = timedelta(hours=24)  # ... nor above this, nor does backoff
    flag_failing_after: timedelta = timedelta(days=1)  # a feed failing this long is flagged
    # How long a feed or delivery claimed by one instance stays reserved to it: what an
    # instance that dies leaves behind, before the others take its work over.
    lease: timedelta = timedelta(minutes=3)
    # The longest one feed body may take to parse; past it the worker is replaced.
    parse_timeout: timedelta = timedelta(seconds=30)


@dataclass(frozen=True, slots=True)
class HttpSettings:
    timeout: timedelta = timedelta(seconds=30)  # whole fetch, headers to last byte
    connect_timeout: timedelta = timedelta(seconds=10)
    max_body: int = 15 * 2**20  # bytes, after decompression
    max_redirects: int = 5
    allow_private_networks: bool = False  # loopback, private, link-local addresses
    user_agent: str = f"aggregator/{__version__} (+https://github.com/aggregator/aggregator)"


@dataclass(frozen=True, slots=True)
class AlertSettings:
    max_age: timedelta = timedelta(days=3)  # a delivery still pending after this has failed
    deliver_interval: timedelta = timedelta(seconds=10)  # how often the outbox is drained


@dataclass(frozen=True, slots=True)
class DedupSettings:
    window: timedelta = timedelta(days=3)  # a new entry is compared with stories this recent
    similarity: float = 0.5  # text resemblance (0-1) from which two entries are one story


@dataclass(frozen=True, slots=True)
class RetentionSettings:
    max_age: timedelta = timedelta(days=90)  # entries and stories older than this are pruned


@dataclass(frozen=True, slots=True)
class FeedSettings:
    name: str
    url: str
    interval: timedelta | None = None  # None: polling.default_interval
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class WatchlistSettings:
    name: str
    any: tuple[str, ...]  # words or phrases, any of which matches (may be empty, see below)
    channels: tuple[str, ...]  # channel names, all defined in aggregator.toml
    tags: tuple[str, ...] = ()  # if set, only stories from feeds with one of these tags
    query: str | None = None  # the query language (aggregator.match.query)
    all: tuple[str, ...] = ()  # every one of these must occur
    none: tuple[str, ...] = ()  # none of these may occur
    # At least one of any, all and query is given; each given part must hold.


@dataclass(frozen=True, slots=True)
class Settings:
    config_dir: Path
    storage: StorageSettings = field(default_factory=StorageSettings)
    polling: PollingSettings = field(default_factory=PollingSettings)
    http: HttpSettings = field(default_factory=HttpSettings)
    alerts: AlertSettings = field(default_factory=AlertSettings)
    channels: tuple[ChannelSettings, ...] = ()
    feeds: tuple[FeedSettings, ...] = ()
    watchlists: tuple[WatchlistSettings, ...] = ()
    log_level: str = "INFO"
    dedup: DedupSettings = field(default_factory=DedupSettings)
    retention: RetentionSettings = field(default_factory=RetentionSettings)

    def channel(self, name: str) -> ChannelSettings:
        """The channel called `name`; KeyError if there is none."""
        for channel in self.channels:
            if channel.name == name:
                return channel
        raise KeyError(name)


def resolve_config_dir(cli_value: str | None, environ: Mapping[str, str]) -> Path:
    """The config directory: --config, else $AGGREGATOR_CONFIG, else ./config."""
    chosen = cli_value or environ.get(CONFIG_DIR_ENV) or DEFAULT_CONFIG_DIR
    return Path(chosen).expanduser()


def load_settings(config_dir: Path, environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate the config directory; ConfigErrors lists every problem found."""
    env = os.environ if environ is None else environ
    if not config_dir.is_dir():
        state = "is not a directory" if config_dir.exists() else "does not exist"
        raise ConfigErrors([ConfigError(str(config_dir), "", f"config directory {state}")])
    errors: list[ConfigError] = []
    main = read_toml(config_dir, MAIN_FILE, errors)
    feeds_doc = read_toml(config_dir, FEEDS_FILE, errors)
    watch_doc = read_toml(config_dir, WATCHLISTS_FILE, errors)
    # Names and tags declared even by invalid entries, so one error does not cascade.
    settings, channel_names = Settings(config_dir=config_dir), None
    if main is not None:
        with main:
            settings, channel_names = _main_settings(main, config_dir, env)
    storage = _storage(settings.storage.url, config_dir, env, errors)
    feeds: tuple[FeedSettings, ...] = ()
    feed_tags = None
    if feeds_doc is not None:
        with feeds_doc:
            feeds, feed_tags = _feeds(feeds_doc)
    watchlists: tuple[WatchlistSettings, ...] = ()
    if watch_doc is not None:
        with watch_doc:
            watchlists = _watchlists(watch_doc, channel_names, feed_tags)
    if errors:
        raise ConfigErrors(errors)
    return Settings(
        config_dir=config_dir,
        storage=storage,
        polling=settings.polling,
        http=settings.http,
        alerts=settings.alerts,
        channels=settings.channels,
        feeds=feeds,
        watchlists=watchlists,
        log_level=settings.log_level,
        dedup=settings.dedup,
        retention=settings.retention,
    )


def _main_settings(
    main: Table, config_dir: Path, environ: Mapping[str, str]
) -> tuple[Settings, set[str]]:
    """aggregator.toml, and every channel name it declares (the storage URL as written)."""
    with main.table("storage") as table:
        storage = StorageSettings(table.get("url", as_database_url, StorageSettings().url))
    with main.table("polling") as table:
        poll = PollingSettings()
        polling = PollingSettings(
            default_interval=table.get("default_interval", as_duration, poll.default_interval),
            concurrency=table.get("concurrency", int_in(1, 1024), poll.concurrency),
            per_host_concurrency=table.get(
                "per_host_concurrency", int_in(1, 1024), poll.per_host_concurrency
            ),
            min_interval=table.get("min_interval", as_duration, poll.min_interval),
            max_interval=table.get("max_interval", as_duration, poll.max_interval),
            flag_failing_after=table.get(
                "flag_failing_after", as_duration, poll.flag_failing_after
            ),
            lease=table.get("lease", as_duration, poll.lease),
            parse_timeout=table.get("parse_timeout", as_duration, poll.parse_timeout),
        )
    with main.table("http") as table:
        web = HttpSettings()
        http = HttpSettings(
            timeout=table.get("timeout", as_duration, web.timeout),
            connect_timeout=table.get("connect_timeout", as_duration, web.connect_timeout),
            max_body=table.get("max_body", as_size, web.max_body),
            max_redirects=table.get("max_redirects", int_in(0, 20), web.max_redirects),
            allow_private_networks=table.get(
                "allow_private_networks", as_bool, web.allow_private_networks
            ),
            user_agent=table.get("user_agent", as_name, web.user_agent),
        )
    with main.table("alerts") as table:
        alert = AlertSettings()
        alerts = AlertSettings(
            max_age=table.get("max_age", as_duration, alert.max_age),
            deliver_interval=table.get("deliver_interval", as_duration, alert.deliver_interval),
        )
    with main.table("logging") as table:
        log_level = table.get("level", as_log_level, "INFO")
    channels: list[ChannelSettings] = []
    first_at: dict[str, str] = {}
    for table in main.tables("channels"):
        with table:
            name, channel = build_channel(table, environ)
        if name is not None and _unique(table, "channel", name, first_at) and channel is not None:
            channels.append(channel)
    found = tuple(channels)
    dedup, retention = _dedup_and_retention(main)
    settings = Settings(
        config_dir,
        storage,
        polling,
        http,
        alerts,
        found,
        log_level=log_level,
        dedup=dedup,
        retention=retention,
    )
    return settings, set(first_at)


def _dedup_and_retention(main: Table) -> tuple[DedupSettings, RetentionSettings]:
    """[dedup] and [retention]: the story clustering window and threshold, pruning age."""
    with main.table("dedup") as table:
        default = DedupSettings()
        dedup = DedupSettings(
            window=table.get("window", as_duration, default.window),
            similarity=table.get("similarity", float_in(0.2, 1.0), default.similarity),
        )
        if dedup.window > timedelta(days=30):
            table.error("window", "must be at most 30d (every story in it is a candidate)")
    with main.table("retention") as table:
        max_age = table.get("max_age", as_duration, RetentionSettings().max_age)
        if max_age < timedelta(days=1):
            table.error("max_age", f"must be at least 1d, got {max_age}")
    return dedup, RetentionSettings(max_age=max_age)


def _storage(
    url: str, config_dir: Path, environ: Mapping[str, str], errors: list[ConfigError]
) -> StorageSettings:
    """The file's URL unless $AGGREGATOR_STORAGE_URL is set; relative sqlite made absolute."""
    override = environ.get(STORAGE_URL_ENV)
    if override:
        try:
            url = as_database_url(override)
        except ValueError as exc:
            errors.append(ConfigError("environment", STORAGE_URL_ENV, str(exc)))
    match = _SQLITE_FILE_RE.fullmatch(url)
    if match is None:
        return StorageSettings(url)
    prefix, path, query = match.group(1), match.group(2), match.group(3) or ""
    if not path or path == ":memory:" or path.startswith(("/", "file:")):
        return StorageSettings(url)
    base = os.path.dirname(os.path.abspath(config_dir))
    return StorageSettings(f"{prefix}{os.path.normpath(os.path.join(base, path))}{query}")


def _feeds(doc: Table) -> tuple[tuple[FeedSettings, ...], set[str]]:
    """[[feeds]], and every tag they declare."""
    feeds: list[FeedSettings] = []
    first_at: dict[str, str] = {}
    all_tags: set[str] = set()
    for table in doc.tables("feeds"):
        with table:
            name = table.require("name", as_name)
            url = table.require("url", as_http_url)
            interval = table.optional("interval", as_duration)
            tags = table.get("tags", list_of(as_name), NO_STRINGS)
        all_tags.update(tags)
        if name is not None and _unique(table, "feed", name, first_at) and url is not None:
            feeds.append(FeedSettings(name=name, url=url, interval=interval, tags=tags))
    return tuple(feeds), all_tags


def _watchlists(
    doc: Table, channel_names: set[str] | None, feed_tags: set[str] | None
) -> tuple[WatchlistSettings, ...]:
    """[[watchlists]]; references are checked against what exists (None: not checkable)."""
    watchlists: list[WatchlistSettings] = []
    first_at: dict[str, str] = {}
    for table in doc.tables("watchlists"):
        with table:
            name = table.require("name", as_name)
            query = table.optional("query", as_name)
            terms = {key: table.optional(key, list_of(as_name)) for key in ("any", "all", "none")}
            channels = table.require("channels", list_of(as_name, empty="must name a channel"))
            tags = table.get("tags", list_of(as_name), NO_STRINGS)
        for index, channel in enumerate(channels or ()):
            if channel_names is not None and channel not in channel_names:
                known = ", ".join(sorted(channel_names)) or f"none defined in {MAIN_FILE}"
                message = f"unknown channel {channel!r} (known: {known})"
                table.error("channels", message, f"[{index}]")
        for index, tag in enumerate(tags):
            if feed_tags is not None and tag not in feed_tags:
                message = f"no feed in {FEEDS_FILE} has the tag {tag!r}, so nothing would match"
                table.error("tags", message, f"[{index}]")
        spec = watchlist_terms(table, name or "", query, terms)
        if name is None or not _unique(table, "watchlist", name, first_at):
            continue
        if spec is not None and channels is not None:
            channels = tuple(dict.fromkeys(channels))  # a channel named twice alerts once
            watchlists.append(
                WatchlistSettings(
                    name, spec.any, channels, tags, query=spec.query, all=spec.all, none=spec.none
                )
            )
    return tuple(watchlists)


def _unique(table: Table, kind: str, name: str, first_at: dict[str, str]) -> bool:
    """Record `name` as seen at `table`; error and False if it was seen before."""
    if name in first_at:
        table.error("name", f"duplicate {kind} name {name!r} (also at {first_at[name]})")
        return False
    first_at[name] = table.path
    return True
