"""Tests for aggregator.settings: the shipped config, defaults, parsing and every error kind."""

from __future__ import annotations

import dataclasses
import os
import re
from datetime import timedelta
from pathlib import Path

import pytest

from aggregator.errors import ConfigError, ConfigErrors
from aggregator.settings import (
    CHANNEL_TYPES,
    DEFAULT_CONFIG_DIR,
    AlertSettings,
    EmailChannel,
    FeedSettings,
    HttpSettings,
    LogChannel,
    PollingSettings,
    Secret,
    Settings,
    StorageSettings,
    WatchlistSettings,
    WebhookChannel,
    load_settings,
    parse_duration,
    parse_size,
    resolve_config_dir,
)

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "config"
WEBHOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SMTP_PASSWORD = "correct-horse-battery-staple"
DURATION_HINT = "(use e.g. 90s, 15m, 2h, 7d)"
SIZE_HINT = "(use e.g. 512KiB, 15MiB, 1MB or a number of bytes)"

CONSOLE = '[[channels]]\nname = "console"\ntype = "log"\n'
ONE_FEED = '[[feeds]]\nname = "bbc"\nurl = "https://feeds.bbci.co.uk/news/rss.xml"\n'
WATCH = '[[watchlists]]\nname = "yarmouk"\nany = ["Yarmouk"]\nchannels = ["console"]\n'


def write_config(
    base: Path,
    aggregator: str | None = None,
    feeds: str | None = None,
    watchlists: str | None = None,
) -> Path:
    """A config directory under `base` holding the given files (None: file absent)."""
    config_dir = base / "config"
    config_dir.mkdir(exist_ok=True)
    files = {"aggregator.toml": aggregator, "feeds.toml": feeds, "watchlists.toml": watchlists}
    for name, text in files.items():
        if text is not None:
            (config_dir / name).write_text(text, encoding="utf-8")
    return config_dir


def error_messages(config_dir: Path, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigErrors) as info:
        load_settings(config_dir, environ or {})
    assert all(isinstance(e, ConfigError) for e in info.value.errors)
    assert str(info.value) == "\n".join(str(e) for e in info.value.errors)
    return [str(e) for e in info.value.errors]


def uncommented_channels(text: str) -> str:
    """The commented-out [[channels]] examples of a file, uncommented."""
    blocks, lines = [], iter(text.splitlines())
    for line in lines:
        if line.strip() == "# [[channels]]":
            block = ["[[channels]]"]
            for inner in lines:
                if not inner.startswith("#"):
                    break
                block.append(inner.removeprefix("#").removeprefix(" "))
            blocks.append("\n".join(block))
    return "\n\n".join(blocks) + "\n"


# --- the shipped config ----------------------------------------------------------------


def test_shipped_config_loads_from_the_project_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    for name in ("AGGREGATOR_STORAGE_URL", "AGGREGATOR_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings(Path("config"))
    assert settings.storage.url == f"sqlite:///{ROOT / 'data' / 'aggregator.db'}"
    assert settings.channels == (LogChannel(name="console"),)
    assert 5 <= len(settings.feeds) <= 8
    for feed in settings.feeds:
        assert feed.url.startswith("https://") and feed.tags, feed
    assert settings.watchlists == (
        WatchlistSettings(
            name="yarmouk",
            any=("Yarmouk", "Yarmuk", "Yarmūk", "اليرموك"),
            channels=("console",),
        ),
    )
    assert settings.polling == PollingSettings()
    assert settings.http == HttpSettings()
    assert settings.alerts == AlertSettings()


def test_shipped_channel_examples_are_valid_when_uncommented(tmp_path: Path) -> None:
    shipped = (SHIPPED / "aggregator.toml").read_text(encoding="utf-8")
    extra = uncommented_channels(shipped)
    assert extra.count("[[channels]]") == 2
    config_dir = write_config(tmp_path, aggregator=shipped + "\n" + extra)
    environ = {"AGGREGATOR_WEBHOOK_SECRET": WEBHOOK_SECRET, "SMTP_PASSWORD": SMTP_PASSWORD}
    settings = load_settings(config_dir, environ)
    assert [c.type for c in settings.channels] == ["log", "webhook", "email"]
    webhook, email = settings.channel("ops-webhook"), settings.channel("desk-email")
    assert isinstance(webhook, WebhookChannel) and isinstance(email, EmailChannel)
    assert webhook.secret is not None and webhook.secret.reveal() == WEBHOOK_SECRET
    assert email.password is not None and email.password.reveal() == SMTP_PASSWORD


# --- defaults and a full config --------------------------------------------------------


@pytest.mark.parametrize(
    ("attribute", "expected"),
    [
        ("polling.default_interval", timedelta(minutes=15)),
        ("polling.concurrency", 64),
        ("polling.per_host_concurrency", 8),
        ("http.timeout", timedelta(seconds=30)),
        ("http.connect_timeout", timedelta(seconds=10)),
        ("http.max_body", 15 * 1024 * 1024),
        ("http.max_redirects", 5),
        ("http.allow_private_networks", False),
        ("http.user_agent", "aggregator/0.1.0 (+https://github.com/aggregator/aggregator)"),
        ("alerts.max_age", timedelta(days=3)),
        ("alerts.deliver_interval", timedelta(seconds=10)),
        ("log_level", "INFO"),
        ("channels", ()),
        ("feeds", ()),
        ("watchlists", ()),
    ],
)
def test_defaults_of_an_empty_config_dir(tmp_path: Path, attribute: str, expected: object) -> None:
    value: object = load_settings(write_config(tmp_path), {})
    for part in attribute.split("."):
        value = getattr(value, part)
    assert value == expected


def test_default_storage_is_sqlite_under_data_next_to_config(tmp_path: Path) -> None:
    settings = load_settings(write_config(tmp_path), {})
    assert settings.storage.url == f"sqlite:///{tmp_path}/data/aggregator.db"
    assert settings.storage.url.startswith("sqlite:////")
    assert settings.config_dir == tmp_path / "config"


FULL_CONFIG = """
[storage]
url = "postgresql+psycopg://aggregator@db/aggregator"

[polling]
default_interval = "1h30m"
concurrency = 10
per_host_concurrency = 2

[http]
timeout = "45s"
connect_timeout = "5s"
max_body = "512KiB"
max_redirects = 0
allow_private_networks = true
user_agent = "test-agent/1"

[alerts]
max_age = "7d"
deliver_interval = "2s"

[logging]
level = "debug"

[[channels]]
name = "hook"
type = "webhook"
url = "https://hooks.example.org/x"
secret_env = "HOOK_SECRET"
timeout = "3s"

[[channels]]
name = "mail"
type = "email"
to = ["a@example.org", "b@example.org"]
from = "aggregator@example.org"
smtp_host = "smtp.example.org"
security = "starttls"
username = "agg"
password_env = "SMTP_PASSWORD"

[[channels]]
name = "console"
type = "log"
"""


def test_every_key_of_a_full_config_is_read(tmp_path: Path) -> None:
    feeds = ONE_FEED + 'interval = "10m"\ntags = ["uk", "world"]\n'
    watch = WATCH.replace('["console"]', '["mail", "hook", "mail"]') + 'tags = ["uk"]\n'
    config_dir = write_config(tmp_path, FULL_CONFIG, feeds, watch)
    environ = {"HOOK_SECRET": WEBHOOK_SECRET, "SMTP_PASSWORD": SMTP_PASSWORD}
    settings = load_settings(config_dir, environ)
    assert settings == Settings(
        config_dir=config_dir,
        storage=StorageSettings("postgresql+psycopg://aggregator@db/aggregator"),
        polling=PollingSettings(timedelta(hours=1, minutes=30), 10, 2),
        http=HttpSettings(
            timedelta(seconds=45), timedelta(seconds=5), 512 * 1024, 0, True, "test-agent/1"
        ),
        alerts=AlertSettings(timedelta(days=7), timedelta(seconds=2)),
        channels=(
            WebhookChannel(
                "hook", "https://hooks.example.org/x", Secret(WEBHOOK_SECRET), timedelta(seconds=3)
            ),
            EmailChannel(
                name="mail",
                to=("a@example.org", "b@example.org"),
                from_addr="aggregator@example.org",
                smtp_host="smtp.example.org",
                smtp_port=587,  # the default for starttls
                security="starttls",
                username="agg",
                password=Secret(SMTP_PASSWORD),
            ),
            LogChannel("console"),
        ),
        feeds=(
            FeedSettings(
                "bbc",
                "https://feeds.bbci.co.uk/news/rss.xml",
                timedelta(minutes=10),
                ("uk", "world"),
            ),
        ),
        watchlists=(WatchlistSettings("yarmouk", ("Yarmouk",), ("mail", "hook"), ("uk",)),),
        log_level="DEBUG",
    )


@pytest.mark.parametrize(
    ("security", "port"), [("none", 25), ("starttls", 587), ("tls", 465), ("tls", 2525)]
)
def test_email_port_defaults_to_the_security_mode(tmp_path: Path, security: str, port: int) -> None:
    explicit = f"smtp_port = {port}\n" if port == 2525 else ""
    channel = f"""[[channels]]
name = "mail"
type = "email"
to = ["desk@example.org"]
from = "aggregator@example.org"
security = "{security}"
{explicit}"""
    settings = load_settings(write_config(tmp_path, channel), {})
    email = settings.channel("mail")
    assert isinstance(email, EmailChannel)
    assert (email.security, email.smtp_port, email.smtp_host) == (security, port, "localhost")
    assert email.timeout == timedelta(seconds=30) and email.password is None


def test_channel_lookup_by_name(tmp_path: Path) -> None:
    settings = load_settings(write_config(tmp_path, CONSOLE), {})
    assert settings.channel("console") == LogChannel("console")
    with pytest.raises(KeyError):
        settings.channel("nope")


def test_channel_types_come_from_a_registry() -> None:
    assert sorted(CHANNEL_TYPES) == ["email", "log", "webhook"]
    with pytest.raises(TypeError):
        CHANNEL_TYPES["slack"] = CHANNEL_TYPES["log"]  # type: ignore[index]


def test_settings_are_frozen(tmp_path: Path) -> None:
    settings = load_settings(write_config(tmp_path, CONSOLE), {})
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.log_level = "DEBUG"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.polling.concurrency = 1  # type: ignore[misc]


# --- durations and sizes ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("15m", timedelta(minutes=15)),
        ("2h", timedelta(hours=2)),
        ("7d", timedelta(days=7)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1d2h3m4s", timedelta(days=1, hours=2, minutes=3, seconds=4)),
        (" 5m ", timedelta(minutes=5)),
        ("0s", timedelta(0)),
    ],
)
def test_parse_duration_accepts(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", " ", "x", "15", "m", "1.5h", "15M", "-5m", "30m1h", "1h1h", "500ms", "1 h", "١٥m", "5 m"],
)
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match=re.escape(f"invalid duration {text!r} {DURATION_HINT}")):
        parse_duration(text)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("15MiB", 15 * 2**20),
        ("512KiB", 512 * 1024),
        ("1MB", 1_000_000),
        ("100B", 100),
        ("2GiB", 2 * 2**30),
        ("1GB", 10**9),
        ("1kB", 1000),
        ("15 mib", 15 * 2**20),
        ("1.5KiB", 1536),
        ("4096", 4096),
        (1024, 1024),
        (0, 0),
    ],
)
def test_parse_size_accepts(value: str | int, expected: int) -> None:
    assert parse_size(value) == expected


@pytest.mark.parametrize("value", ["", "MiB", "15XB", "-1", -1, "1.5B", "15 MB/s", "1e6", True])
def test_parse_size_rejects(value: str | int) -> None:
    with pytest.raises(ValueError, match="invalid size"):
        parse_size(value)


# --- each error kind, with its file and key path ---------------------------------------

BAD_HOOK = '[[channels]]\nname = "hook"\ntype = "webhook"\nurl = "https://h.example.org/"\n'
MAIL = (
    '[[channels]]\nname = "mail"\ntype = "email"\nto = ["d@example.org"]\nfrom = "a@example.org"\n'
)


def four_feeds(last: str) -> str:
    feeds = "".join(ONE_FEED.replace('"bbc"', f'"feed{i}"') for i in range(4))
    return feeds + last + "\n"


ERROR_CASES: list[tuple[str, dict[str, str], dict[str, str], str]] = [
    # (id, files, environ, the one expected message)
    (
        "unknown section",
        {"aggregator.toml": "[pollin]\nconcurrency = 2\n"},
        {},
        "aggregator.toml: pollin: unknown key (did you mean 'polling'?)",
    ),
    (
        "unknown key in a section",
        {"aggregator.toml": '[polling]\ndefault_intervall = "5m"\n'},
        {},
        "aggregator.toml: polling.default_intervall: unknown key"
        " (did you mean 'default_interval'?)",
    ),
    (
        "unknown key, nothing close",
        {"aggregator.toml": "[alerts]\ncolour = 1\n"},
        {},
        "aggregator.toml: alerts.colour: unknown key (known: deliver_interval, max_age)",
    ),
    (
        "unknown quoted key",
        {"aggregator.toml": '[alerts]\n"max age" = "3d"\n'},
        {},
        "aggregator.toml: alerts.\"max age\": unknown key (did you mean 'max_age'?)",
    ),
    (
        "unknown key in a feed",
        {"feeds.toml": ONE_FEED + 'tag = ["uk"]\n'},
        {},
        "feeds.toml: feeds[0].tag: unknown key (did you mean 'tags'?)",
    ),
    (
        "unknown key in a channel",
        {"aggregator.toml": BAD_HOOK + 'secret = "x"\n'},
        {},
        "aggregator.toml: channels[0].secret: unknown key (did you mean 'secret_env'?)",
    ),
    (
        "unknown key at the root of feeds.toml",
        {"feeds.toml": '[[feed]]\nname = "x"\n'},
        {},
        "feeds.toml: feed: unknown key (did you mean 'feeds'?)",
    ),
    (
        "query with a syntax error",
        {"aggregator.toml": CONSOLE, "watchlists.toml": WATCH + "query = 'camp (Yarmouk'\n"},
        {},
        "watchlists.toml: watchlists[0].query: column 6: unbalanced parenthesis",
    ),
    (
        "string for integer",
        {"aggregator.toml": '[polling]\nconcurrency = "64"\n'},
        {},
        "aggregator.toml: polling.concurrency: expected an integer, got string",
    ),
    (
        "boolean for integer",
        {"aggregator.toml": "[polling]\nconcurrency = true\n"},
        {},
        "aggregator.toml: polling.concurrency: expected an integer, got boolean",
    ),
    (
        "integer out of range",
        {"aggregator.toml": "[polling]\nconcurrency = 0\n"},
        {},
        "aggregator.toml: polling.concurrency: must be between 1 and 1024, got 0",
    ),
    (
        "string for boolean",
        {"aggregator.toml": '[http]\nallow_private_networks = "yes"\n'},
        {},
        "aggregator.toml: http.allow_private_networks: expected true or false, got string",
    ),
    (
        "section not a table",
        {"aggregator.toml": "http = 5\n"},
        {},
        "aggregator.toml: http: expected a table ([http]), got integer",
    ),
    (
        "feeds not an array of tables",
        {"feeds.toml": 'feeds = "x"\n'},
        {},
        "feeds.toml: feeds: expected an array of tables ([[feeds]]), got string",
    ),
    (
        "feeds item not a table",
        {"feeds.toml": "feeds = [1]\n"},
        {},
        "feeds.toml: feeds[0]: expected a table, got integer",
    ),
    (
        "bad duration",
        {"feeds.toml": four_feeds('interval = "x"')},
        {},
        f"feeds.toml: feeds[3].interval: invalid duration 'x' {DURATION_HINT}",
    ),
    (
        "zero duration",
        {"aggregator.toml": '[polling]\ndefault_interval = "0s"\n'},
        {},
        "aggregator.toml: polling.default_interval: must be longer than zero, got '0s'",
    ),
    (
        "integer for duration",
        {"aggregator.toml": "[http]\ntimeout = 30\n"},
        {},
        f"aggregator.toml: http.timeout: expected a duration string {DURATION_HINT}, got integer",
    ),
    (
        "bad size",
        {"aggregator.toml": '[http]\nmax_body = "15 MB/s"\n'},
        {},
        f"aggregator.toml: http.max_body: invalid size '15 MB/s' {SIZE_HINT}",
    ),
    (
        "zero size",
        {"aggregator.toml": "[http]\nmax_body = 0\n"},
        {},
        "aggregator.toml: http.max_body: must be larger than zero, got 0",
    ),
    (
        "float for size",
        {"aggregator.toml": "[http]\nmax_body = 1.5\n"},
        {},
        f"aggregator.toml: http.max_body: expected a size {SIZE_HINT}, got float",
    ),
    (
        "feed url not http",
        {"feeds.toml": '[[feeds]]\nname = "x"\nurl = "ftp://example.org/rss"\n'},
        {},
        "feeds.toml: feeds[0].url: must be an http:// or https:// URL with a host",
    ),
    (
        "feed url without host",
        {"feeds.toml": '[[feeds]]\nname = "x"\nurl = "https:///rss"\n'},
        {},
        "feeds.toml: feeds[0].url: must be an http:// or https:// URL with a host",
    ),
    (
        "feed url without scheme",
        {"feeds.toml": '[[feeds]]\nname = "x"\nurl = "example.org/rss"\n'},
        {},
        "feeds.toml: feeds[0].url: must be an http:// or https:// URL with a host",
    ),
    (
        "feed url missing",
        {"feeds.toml": '[[feeds]]\nname = "x"\n'},
        {},
        "feeds.toml: feeds[0].url: missing required key",
    ),
    (
        "feed name empty",
        {"feeds.toml": ONE_FEED.replace('"bbc"', '" "')},
        {},
        "feeds.toml: feeds[0].name: must not be empty",
    ),
    (
        "feed tag not a string",
        {"feeds.toml": ONE_FEED + 'tags = ["uk", 3]\n'},
        {},
        "feeds.toml: feeds[0].tags[1]: expected a string, got integer",
    ),
    (
        "duplicate feed names",
        {"feeds.toml": ONE_FEED + ONE_FEED.replace('"bbc"', '"other"') + ONE_FEED},
        {},
        "feeds.toml: feeds[2].name: duplicate feed name 'bbc' (also at feeds[0])",
    ),
    (
        "duplicate channel names",
        {"aggregator.toml": CONSOLE + CONSOLE},
        {},
        "aggregator.toml: channels[1].name: duplicate channel name 'console' (also at channels[0])",
    ),
    (
        "duplicate watchlist names",
        {"aggregator.toml": CONSOLE, "watchlists.toml": WATCH + WATCH},
        {},
        "watchlists.toml: watchlists[1].name: duplicate watchlist name 'yarmouk'"
        " (also at watchlists[0])",
    ),
    (
        "watchlist names an unknown channel",
        {
            "aggregator.toml": CONSOLE,
            "watchlists.toml": WATCH.replace('"console"]', '"console", "slack"]'),
        },
        {},
        "watchlists.toml: watchlists[0].channels[1]: unknown channel 'slack' (known: console)",
    ),
    (
        "watchlist channel when no channel exists",
        {"watchlists.toml": WATCH},
        {},
        "watchlists.toml: watchlists[0].channels[0]: unknown channel 'console'"
        " (known: none defined in aggregator.toml)",
    ),
    (
        "watchlist with an empty any",
        {"aggregator.toml": CONSOLE, "watchlists.toml": WATCH.replace('["Yarmouk"]', "[]")},
        {},
        "watchlists.toml: watchlists[0].any: must list at least one term",
    ),
    (
        "watchlist with an empty term",
        {
            "aggregator.toml": CONSOLE,
            "watchlists.toml": WATCH.replace('"Yarmouk"', '"Yarmouk", ""'),
        },
        {},
        "watchlists.toml: watchlists[0].any[1]: must not be empty",
    ),
    (
        "watchlist without any",
        {"aggregator.toml": CONSOLE, "watchlists.toml": WATCH.replace('any = ["Yarmouk"]\n', "")},
        {},
        "watchlists.toml: watchlists[0].any: missing required key (or give `all` or `query`)",
    ),
    (
        "watchlist with no channels",
        {"aggregator.toml": CONSOLE, "watchlists.toml": WATCH.replace('["console"]', "[]")},
        {},
        "watchlists.toml: watchlists[0].channels: must name a channel",
    ),
    (
        "watchlist tag no feed has",
        {
            "aggregator.toml": CONSOLE,
            "feeds.toml": ONE_FEED + 'tags = ["syria"]\n',
            "watchlists.toml": WATCH + 'tags = ["sryia"]\n',
        },
        {},
        "watchlists.toml: watchlists[0].tags[0]: no feed in feeds.toml has the tag 'sryia',"
        " so nothing would match",
    ),
    (
        "unknown channel type",
        {"aggregator.toml": CONSOLE + '[[channels]]\nname = "s"\ntype = "slack"\nwebhook = "x"\n'},
        {},
        "aggregator.toml: channels[1].type: unknown channel type 'slack'"
        " (known: email, log, webhook)",
    ),
    (
        "channel type missing",
        {"aggregator.toml": '[[channels]]\nname = "s"\n'},
        {},
        "aggregator.toml: channels[0].type: missing required key (one of: email, log, webhook)",
    ),
    (
        "channel name missing",
        {"aggregator.toml": '[[channels]]\ntype = "log"\n'},
        {},
        "aggregator.toml: channels[0].name: missing required key",
    ),
    (
        "webhook url missing",
        {"aggregator.toml": BAD_HOOK.replace('url = "https://h.example.org/"\n', "")},
        {},
        "aggregator.toml: channels[0].url: missing required key",
    ),
    (
        "env var not set",
        {"aggregator.toml": MAIL + 'username = "u"\npassword_env = "SMTP_PASSWORD"\n'},
        {},
        "aggregator.toml: channels[0].password_env: environment variable SMTP_PASSWORD is not set",
    ),
    (
        "env var empty",
        {"aggregator.toml": BAD_HOOK + 'secret_env = "HOOK_SECRET"\n'},
        {"HOOK_SECRET": ""},
        "aggregator.toml: channels[0].secret_env: environment variable HOOK_SECRET is empty",
    ),
    (
        "webhook secret of the wrong form",
        {"aggregator.toml": BAD_HOOK + 'secret_env = "HOOK_SECRET"\n'},
        {"HOOK_SECRET": "whsec_not base64!"},
        "aggregator.toml: channels[0].secret_env: environment variable HOOK_SECRET does not hold"
        " a Standard Webhooks secret ('whsec_' followed by base64)",
    ),
    (
        "secret pasted instead of a variable name",
        {"aggregator.toml": BAD_HOOK + f'secret_env = "{WEBHOOK_SECRET}"\n'},
        {},
        "aggregator.toml: channels[0].secret_env: must name an environment variable such as"
        " SMTP_PASSWORD (A-Z, 0-9, _); the secret itself never goes here",
    ),
    (
        "username without password_env",
        {"aggregator.toml": MAIL + 'username = "u"\n'},
        {},
        "aggregator.toml: channels[0].username: SMTP login needs password_env as well",
    ),
    (
        "password_env without username",
        {"aggregator.toml": MAIL + 'password_env = "SMTP_PASSWORD"\n'},
        {"SMTP_PASSWORD": SMTP_PASSWORD},
        "aggregator.toml: channels[0].password_env: SMTP login needs username as well",
    ),
    (
        "bad email address",
        {"aggregator.toml": MAIL.replace("d@example.org", "desk")},
        {},
        "aggregator.toml: channels[0].to[0]: invalid email address 'desk'",
    ),
    (
        "email with no recipients",
        {"aggregator.toml": MAIL.replace('["d@example.org"]', "[]")},
        {},
        "aggregator.toml: channels[0].to: must list at least one address",
    ),
    (
        "bad security",
        {"aggregator.toml": MAIL + 'security = "ssl"\n'},
        {},
        "aggregator.toml: channels[0].security: must be one of none, starttls, tls, got 'ssl'",
    ),
    (
        "bad smtp port",
        {"aggregator.toml": MAIL + "smtp_port = 70000\n"},
        {},
        "aggregator.toml: channels[0].smtp_port: must be between 1 and 65535, got 70000",
    ),
    (
        "bad log level",
        {"aggregator.toml": '[logging]\nlevel = "verbose"\n'},
        {},
        "aggregator.toml: logging.level: must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL,"
        " got 'verbose'",
    ),
    (
        "bad storage url",
        {"aggregator.toml": '[storage]\nurl = "data/aggregator.db"\n'},
        {},
        "aggregator.toml: storage.url: expected a database URL such as"
        " sqlite:///data/aggregator.db or postgresql+psycopg://user@host/dbname",
    ),
    (
        "bad storage url in the environment",
        {},
        {"AGGREGATOR_STORAGE_URL": "aggregator:hunter2@db"},
        "environment: AGGREGATOR_STORAGE_URL: expected a database URL such as"
        " sqlite:///data/aggregator.db or postgresql+psycopg://user@host/dbname",
    ),
    (
        "toml syntax error",
        {"feeds.toml": '[[feeds]]\nname = "x"\nurl = "https://example.org/"\ninterval 10m\n'},
        {},
        "feeds.toml: line 4, column 10: Expected '=' after a key in a key/value pair",
    ),
    (
        "toml duplicate key",
        {"watchlists.toml": '[[watchlists]]\nname = "a"\nname = "b"\n'},
        {},
        "watchlists.toml: line 3, column 11: Cannot overwrite a value",
    ),
    (
        "toml error at the end of the file",
        {"aggregator.toml": '[http]\ntimeout = "30s'},
        {},
        "aggregator.toml: end of document: Unterminated string",
    ),
]


@pytest.mark.parametrize(
    ("files", "environ", "expected"),
    [case[1:] for case in ERROR_CASES],
    ids=[case[0] for case in ERROR_CASES],
)
def test_each_error_names_file_and_key(
    tmp_path: Path, files: dict[str, str], environ: dict[str, str], expected: str
) -> None:
    config_dir = write_config(
        tmp_path,
        files.get("aggregator.toml"),
        files.get("feeds.toml"),
        files.get("watchlists.toml"),
    )
    assert error_messages(config_dir, environ) == [expected]


def test_error_carries_file_and_key_attributes(tmp_path: Path) -> None:
    config_dir = write_config(tmp_path, feeds=four_feeds('interval = "x"'))
    with pytest.raises(ConfigErrors) as info:
        load_settings(config_dir, {})
    (error,) = info.value.errors
    assert (error.file, error.key) == ("feeds.toml", "feeds[3].interval")
    assert error.message == f"invalid duration 'x' {DURATION_HINT}"


def test_non_utf8_file(tmp_path: Path) -> None:
    config_dir = write_config(tmp_path)
    (config_dir / "feeds.toml").write_bytes(b"# caf\xe9\n")
    assert error_messages(config_dir) == ["feeds.toml: not valid UTF-8"]


@pytest.mark.parametrize(
    ("make", "state"), [(False, "does not exist"), (True, "is not a directory")]
)
def test_config_dir_must_be_a_directory(tmp_path: Path, make: bool, state: str) -> None:
    path = tmp_path / "config"
    if make:
        path.write_text("", encoding="utf-8")
    assert error_messages(path) == [f"{path}: config directory {state}"]


# --- several errors at once, and no cascades -------------------------------------------


def test_all_errors_of_all_files_are_reported_together(tmp_path: Path) -> None:
    config_dir = write_config(
        tmp_path,
        aggregator='[polling]\nconcurrency = 0\ntypo = 1\n[http]\ntimeout = "1x"\n' + CONSOLE,
        feeds=four_feeds('interval = "x"'),
        watchlists=WATCH.replace('["console"]', '["nope"]') + WATCH.replace('["Yarmouk"]', "[]"),
    )
    assert error_messages(config_dir) == [
        "aggregator.toml: polling.concurrency: must be between 1 and 1024, got 0",
        "aggregator.toml: polling.typo: unknown key (known: concurrency, default_interval,"
        " flag_failing_after, lease, max_interval, min_interval, parse_timeout,"
        " per_host_concurrency)",
        f"aggregator.toml: http.timeout: invalid duration '1x' {DURATION_HINT}",
        f"feeds.toml: feeds[3].interval: invalid duration 'x' {DURATION_HINT}",
        "watchlists.toml: watchlists[0].channels[0]: unknown channel 'nope' (known: console)",
        "watchlists.toml: watchlists[1].any: must list at least one term",
        "watchlists.toml: watchlists[1].name: duplicate watchlist name 'yarmouk'"
        " (also at watchlists[0])",
    ]


def test_syntax_error_in_one_file_does_not_hide_the_others(tmp_path: Path) -> None:
    config_dir = write_config(
        tmp_path, aggregator="[polling\n", feeds=four_feeds('interval = "x"'), watchlists=WATCH
    )
    messages = error_messages(config_dir)
    # The watchlist's channel cannot be checked, so it is not reported as unknown.
    assert messages == [
        "aggregator.toml: line 1, column 9: Expected ']' at the end of a table declaration",
        f"feeds.toml: feeds[3].interval: invalid duration 'x' {DURATION_HINT}",
    ]


def test_an_invalid_channel_is_still_known_to_watchlists(tmp_path: Path) -> None:
    aggregator = MAIL + 'username = "u"\npassword_env = "SMTP_PASSWORD"\n'
    config_dir = write_config(tmp_path, aggregator, watchlists=WATCH.replace("console", "mail"))
    assert error_messages(config_dir) == [
        "aggregator.toml: channels[0].password_env: environment variable SMTP_PASSWORD is not set"
    ]


def test_an_invalid_feed_still_declares_its_tags(tmp_path: Path) -> None:
    feeds = '[[feeds]]\nname = "x"\nurl = "gopher://x"\ntags = ["syria"]\n'
    watch = WATCH + 'tags = ["syria"]\n'
    config_dir = write_config(tmp_path, CONSOLE, feeds, watch)
    assert error_messages(config_dir) == [
        "feeds.toml: feeds[0].url: must be an http:// or https:// URL with a host"
    ]


def test_unknown_channel_type_does_not_also_report_its_keys(tmp_path: Path) -> None:
    config_dir = write_config(tmp_path, '[[channels]]\nname = "s"\ntype = "slack"\nhook = 1\n')
    assert len(error_messages(config_dir)) == 1


# --- secrets ---------------------------------------------------------------------------


def test_secret_is_masked_and_revealed_on_request() -> None:
    secret = Secret("hunter2")
    assert repr(secret) == str(secret) == f"{secret}" == "Secret('***')"
    assert secret.reveal() == "hunter2"
    assert "hunter2" not in repr([secret]) and "hunter2" not in repr({"k": secret})


def test_secrets_come_from_the_environment_and_never_show(tmp_path: Path) -> None:
    aggregator = (
        BAD_HOOK
        + 'secret_env = "HOOK_SECRET"\n'
        + MAIL
        + 'username = "u"\npassword_env = "SMTP_PASSWORD"\n'
    )
    config_dir = write_config(tmp_path, aggregator)
    settings = load_settings(
        config_dir, {"HOOK_SECRET": WEBHOOK_SECRET, "SMTP_PASSWORD": SMTP_PASSWORD}
    )
    hook, mail = settings.channel("hook"), settings.channel("mail")
    assert isinstance(hook, WebhookChannel) and isinstance(mail, EmailChannel)
    assert hook.secret == Secret(WEBHOOK_SECRET) and mail.password == Secret(SMTP_PASSWORD)
    for shown in (repr(settings), str(settings), repr(hook), str(mail)):
        assert WEBHOOK_SECRET not in shown and SMTP_PASSWORD not in shown
        assert "Secret('***')" in shown


@pytest.mark.parametrize(
    ("aggregator", "environ", "secret"),
    [
        # a wrong-form webhook secret is reported without its value
        (BAD_HOOK + 'secret_env = "HOOK_SECRET"\n', {"HOOK_SECRET": "hunter2hunter2"}, "hunter2"),
        # a secret pasted into the *_env key itself
        (BAD_HOOK + 'secret_env = "whsec_c2VjcmV0c2VjcmV0"\n', {}, "c2VjcmV0c2VjcmV0"),
        (MAIL + 'username = "u"\npassword_env = "pass word 123"\n', {}, "pass word 123"),
        # a database password in a bad URL
        ("", {"AGGREGATOR_STORAGE_URL": "postgres//u:hunter2@db/agg"}, "hunter2"),
        ('[storage]\nurl = "u:hunter2@db"\n', {}, "hunter2"),
    ],
)
def test_secrets_never_appear_in_errors(
    tmp_path: Path, aggregator: str, environ: dict[str, str], secret: str
) -> None:
    messages = error_messages(write_config(tmp_path, aggregator), environ)
    assert len(messages) == 1
    assert secret not in messages[0]


def test_database_password_is_masked_in_repr(tmp_path: Path) -> None:
    url = "postgresql+psycopg://agg:hunter2@db:5432/agg"
    settings = load_settings(write_config(tmp_path), {"AGGREGATOR_STORAGE_URL": url})
    assert settings.storage.url == url
    assert "hunter2" not in repr(settings) and "hunter2" not in repr(settings.storage)
    assert "postgresql+psycopg://agg:***@db:5432/agg" in repr(settings.storage)


# --- storage URL: environment override and relative sqlite paths -----------------------


@pytest.mark.parametrize(
    ("in_file", "environ", "expected"),
    [
        ("postgresql://a@db/x", {}, "postgresql://a@db/x"),
        (
            "postgresql://a@db/x",
            {"AGGREGATOR_STORAGE_URL": "postgresql://b@db/y"},
            "postgresql://b@db/y",
        ),
        (None, {"AGGREGATOR_STORAGE_URL": "postgresql://b@db/y"}, "postgresql://b@db/y"),
        ("postgresql://a@db/x", {"AGGREGATOR_STORAGE_URL": ""}, "postgresql://a@db/x"),
        (
            "postgresql://a@db/x",
            {"AGGREGATOR_STORAGE_URL": "sqlite:///t.db"},
            "sqlite:///{base}/t.db",
        ),
    ],
)
def test_storage_url_environment_override(
    tmp_path: Path, in_file: str | None, environ: dict[str, str], expected: str
) -> None:
    aggregator = f'[storage]\nurl = "{in_file}"\n' if in_file else None
    settings = load_settings(write_config(tmp_path, aggregator), environ)
    assert settings.storage.url == expected.format(base=tmp_path)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///data/a.db", "sqlite:///{base}/data/a.db"),
        ("sqlite:///a.db?timeout=5", "sqlite:///{base}/a.db?timeout=5"),
        ("sqlite+pysqlite:///db/a.db", "sqlite+pysqlite:///{base}/db/a.db"),
        ("sqlite:///../up.db", "sqlite:///{parent}/up.db"),
        ("sqlite:///./data/../b.db", "sqlite:///{base}/b.db"),
        ("sqlite:////abs/a.db", "sqlite:////abs/a.db"),
        ("sqlite://", "sqlite://"),
        ("sqlite:///:memory:", "sqlite:///:memory:"),
        ("postgresql+psycopg://u@h/d", "postgresql+psycopg://u@h/d"),
    ],
)
def test_relative_sqlite_path_is_resolved_against_the_config_parent(
    tmp_path: Path, url: str, expected: str
) -> None:
    settings = load_settings(write_config(tmp_path, f'[storage]\nurl = "{url}"\n'), {})
    assert settings.storage.url == expected.format(base=tmp_path, parent=tmp_path.parent)


def test_relative_config_dir_gives_an_absolute_sqlite_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config(tmp_path)
    monkeypatch.chdir(tmp_path)
    settings = load_settings(Path("config"), {})
    assert settings.storage.url == f"sqlite:///{tmp_path}/data/aggregator.db"
    monkeypatch.chdir(tmp_path / "config")
    assert load_settings(Path("."), {}).storage.url == settings.storage.url


def test_load_settings_reads_os_environ_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGGREGATOR_STORAGE_URL", "postgresql://env@db/x")
    assert load_settings(write_config(tmp_path)).storage.url == "postgresql://env@db/x"


# --- the config directory --------------------------------------------------------------


@pytest.mark.parametrize(
    ("cli", "environ", "expected"),
    [
        ("from-cli", {"AGGREGATOR_CONFIG": "from-env"}, "from-cli"),
        (None, {"AGGREGATOR_CONFIG": "from-env"}, "from-env"),
        (None, {}, "config"),
        (None, {"AGGREGATOR_CONFIG": ""}, "config"),
        ("/etc/aggregator", {}, "/etc/aggregator"),
    ],
)
def test_resolve_config_dir_precedence(
    cli: str | None, environ: dict[str, str], expected: str
) -> None:
    assert resolve_config_dir(cli, environ) == Path(expected)


def test_resolve_config_dir_expands_home() -> None:
    home = os.path.expanduser("~")
    assert resolve_config_dir(None, {"AGGREGATOR_CONFIG": "~/agg"}) == Path(home) / "agg"
    assert DEFAULT_CONFIG_DIR == "config"
