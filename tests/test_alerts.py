"""Alerts end to end: poll -> match -> outbox -> webhook and email, on real receivers."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

from aggregator.alerts.channels import build_channels
from aggregator.alerts.dispatch import Dispatcher
from aggregator.cli import main
from aggregator.settings import load_settings
from aggregator.storage.db import Database
from tests.conftest import ConfigMaker
from tests.helpers.alerting import SECRET_ENV, channels_toml, watchlist_toml
from tests.helpers.feeds import rss2
from tests.helpers.feedserver import FeedServer
from tests.helpers.receivers import SmtpServer, WebhookReceiver

STORY = (
    "Fighters took control of nearly the entire Yarmouk Palestinian refugee camp "
    "in southern Damascus on Wednesday, residents said."
)


def rss_with_links(items: list[tuple[str, str, str, str]]) -> str:
    """Items as (guid, title, link, description)."""
    body = "".join(
        f"<item><guid isPermaLink='false'>{escape(g)}</guid><title>{escape(t)}</title>"
        f"<link>{escape(link)}</link><description>{escape(d)}</description></item>"
        for g, t, link, d in items
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{body}</channel></rss>'
    )


@pytest.fixture(autouse=True)
def _secret(webhook_receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch) -> None:
    assert webhook_receiver.secret is not None
    monkeypatch.setenv(SECRET_ENV, webhook_receiver.secret)


def _config(
    make_config: ConfigMaker,
    feeds: list[tuple[str, str]],
    webhook: WebhookReceiver | None,
    smtp: SmtpServer | None,
    terms: list[str] | None = None,
) -> Path:
    channels = [name for name, r in (("hook", webhook), ("mail", smtp)) if r is not None]
    return make_config(
        feeds,
        extra=channels_toml(webhook, smtp),
        watchlists=watchlist_toml("yarmouk", terms or ["Yarmouk", "Yarmuk"], channels),
    )


def _poll(config: Path, capsys: pytest.CaptureFixture[str], timeout: float = 10) -> str:
    assert main(["poll", "--config", str(config), "--deliver-timeout", str(timeout)]) == 0
    return capsys.readouterr().out


def test_syndicated_story_alerts_once_per_channel(
    feed_server: FeedServer,
    webhook_receiver: WebhookReceiver,
    smtp_server: SmtpServer,
    make_config: ConfigMaker,
    capsys: pytest.CaptureFixture[str],
) -> None:
    link = "https://news.example.org/2026/yarmouk-camp"
    a = feed_server.set(
        "/a.xml",
        rss_with_links(
            [("a-1", "Yarmouk camp falls", link + "?utm_source=rss&utm_medium=feed", STORY)]
        ),
    )
    b = feed_server.set(
        "/b.xml",
        rss_with_links(
            [
                (
                    "b-7",
                    "Fighters seize Yarmouk",
                    "https://NEWS.example.org/2026/yarmouk-camp?fbclid=x#top",
                    STORY,
                )
            ]
        ),
    )
    config = _config(make_config, [("a", a), ("b", b)], webhook_receiver, smtp_server)
    out = _poll(config, capsys)
    assert "2 fetched, 0 not modified, 0 failed" in out
    assert "1 new matches; 2 deliveries sent" in out
    assert len(webhook_receiver.deliveries) == 1
    webhook_id, body = webhook_receiver.deliveries[0]
    assert body["type"] == "watchlist.match" and body["id"] == webhook_id
    assert body["watchlist"] == "yarmouk" and body["matched"] == ["Yarmouk"]
    assert "Yarmouk" in body["story"]["snippet"]
    assert {s["feed"] for s in body["story"]["sources"]} == {"a", "b"}
    assert len(smtp_server.messages) == 1
    message = smtp_server.messages[0].message
    assert message["Message-ID"].endswith("@aggregator>")
    assert "[yarmouk]" in message["Subject"]
    out = _poll(config, capsys)
    assert "0 new matches; 0 deliveries sent" in out
    assert len(webhook_receiver.deliveries) == 1 and len(smtp_server.messages) == 1


@pytest.mark.parametrize(
    ("text", "alerts"),
    [
        ("Shelling hit YARMŪK overnight", True),
        ("Residents of al-Yarmouk fled", True),
        ("The yarmuk district", True),
        ("The Yarmoukian dialect is studied", False),
        ("Nothing about it here", False),
    ],
)
def test_spelling_variants(
    text: str,
    alerts: bool,
    feed_server: FeedServer,
    webhook_receiver: WebhookReceiver,
    make_config: ConfigMaker,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = feed_server.set("/f.xml", rss2([("g1", text, "body")]))
    config = _config(make_config, [("f", url)], webhook_receiver, None)
    _poll(config, capsys)
    assert len(webhook_receiver.deliveries) == (1 if alerts else 0)


def _dispatcher(config: Path, clock: list[datetime]) -> Dispatcher:
    import os

    settings = load_settings(config, os.environ)
    channels = build_channels(settings.channels, True)
    db = Database(settings.storage.url)
    return Dispatcher(db, channels, timedelta(days=3), "test", clock=lambda: clock[0])


def _pending_ids(tmp_path: Path) -> list[tuple[str, str, int]]:
    with sqlite3.connect(tmp_path / "data" / "aggregator.db") as conn:
        return conn.execute("SELECT id, status, attempts FROM deliveries ORDER BY id").fetchall()


def test_receiver_down_three_attempts_then_delivered_once_with_same_id(
    feed_server: FeedServer,
    webhook_receiver: WebhookReceiver,
    make_config: ConfigMaker,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = feed_server.set("/f.xml", rss2([("g1", "Yarmouk camp", STORY)]))
    config = _config(make_config, [("f", url)], webhook_receiver, None)
    webhook_receiver.answer(503, times=3)
    out = _poll(config, capsys, timeout=0.5)
    assert "1 to retry" in out
    clock = [datetime.now(UTC)]
    dispatcher = _dispatcher(config, clock)
    for _ in range(6):
        clock[0] += timedelta(hours=2)
        asyncio.run(dispatcher.run_once())
    ids = {a.headers["webhook-id"] for a in webhook_receiver.attempts}
    assert len(webhook_receiver.attempts) == 4 and len(ids) == 1
    assert len(webhook_receiver.deliveries) == 1
    assert _pending_ids(tmp_path) == [(ids.pop(), "delivered", 4)]


def test_smtp_451_then_ok_delivers(
    feed_server: FeedServer,
    smtp_server: SmtpServer,
    make_config: ConfigMaker,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = feed_server.set("/f.xml", rss2([("g1", "Yarmouk camp", STORY)]))
    config = _config(make_config, [("f", url)], None, smtp_server)
    smtp_server.handler.data_replies = ["451 4.3.0 try later"] * 2
    out = _poll(config, capsys, timeout=0.5)
    assert "1 to retry" in out and smtp_server.messages == []
    clock = [datetime.now(UTC)]
    dispatcher = _dispatcher(config, clock)
    for _ in range(4):
        clock[0] += timedelta(hours=2)
        asyncio.run(dispatcher.run_once())
    assert len(smtp_server.messages) == 1
    ((delivery_id, status, attempts),) = _pending_ids(tmp_path)
    assert status == "delivered" and attempts == 3
    assert smtp_server.messages[0].message["Message-ID"] == f"<{delivery_id}@aggregator>"


def test_delivery_gives_up_after_max_age_and_stays_visible(
    feed_server: FeedServer,
    webhook_receiver: WebhookReceiver,
    make_config: ConfigMaker,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = feed_server.set("/f.xml", rss2([("g1", "Yarmouk camp", STORY)]))
    config = _config(make_config, [("f", url)], webhook_receiver, None)
    webhook_receiver.answer(500, times=100)
    _poll(config, capsys, timeout=0.2)
    clock = [datetime.now(UTC) + timedelta(days=3, minutes=1)]
    asyncio.run(_dispatcher(config, clock).run_once())
    ((_id, status, _attempts),) = _pending_ids(tmp_path)
    assert status == "failed"


def test_gone_receiver_fails_the_delivery_at_once(
    feed_server: FeedServer,
    webhook_receiver: WebhookReceiver,
    make_config: ConfigMaker,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = feed_server.set("/f.xml", rss2([("g1", "Yarmouk camp", STORY)]))
    config = _config(make_config, [("f", url)], webhook_receiver, None)
    webhook_receiver.answer(410)
    out = _poll(config, capsys, timeout=2)
    assert "1 failed" in out
    assert [r[1] for r in _pending_ids(tmp_path)] == ["failed"]


def test_updated_entry_alerts_only_for_new_watchlists(
    feed_server: FeedServer,
    webhook_receiver: WebhookReceiver,
    make_config: ConfigMaker,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = feed_server.set("/f.xml", rss2([("g1", "Yarmouk camp", "first version")]))
    config = _config(make_config, [("f", url)], webhook_receiver, None)
    with (config / "watchlists.toml").open("a") as fh:
        fh.write(watchlist_toml("aid", ["UNRWA"], ["hook"]))
    _poll(config, capsys)
    feed_server.set("/f.xml", rss2([("g1", "Yarmouk camp (updated)", "UNRWA convoy arrives")]))
    out = _poll(config, capsys)
    assert "0 new entries, 1 updated" in out
    assert [d[1]["watchlist"] for d in webhook_receiver.deliveries] == ["yarmouk", "aid"]
