"""Alerts that survive hostile text, broken channels and an SMTP server down for a while.

Feed titles with CR, LF and other control characters must not break an email header nor
block the outbox; a channel that raises a bug must not block the deliveries behind it;
an SMTP server down for the first 10 minutes of simulated time must end with every alert
delivered once, in order of creation (the Dispatcher and Poller run on an injected clock).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aggregator.alerts.channels import build_channels
from aggregator.alerts.dispatch import Dispatcher
from aggregator.cli import main
from aggregator.pipeline import Poller
from aggregator.settings import load_settings
from aggregator.storage.db import Database
from aggregator.types import Alert
from tests.conftest import ConfigMaker
from tests.helpers.alerting import channels_toml, watchlist_toml
from tests.helpers.feeds import rss2
from tests.helpers.feedserver import FeedServer
from tests.helpers.receivers import SmtpServer, free_port, make_alert
from tests.test_channels import mailer, send_all

_WORDS = (
    "convoy ceasefire harvest drought parliament election bridge flood refinery strike museum "
    "vaccine railway monsoon tariff embassy reservoir festival satellite pipeline orchard "
    "glacier court ferry quarry airport census typhoon lottery carnival"
)
WORDS = _WORDS.split()


def story(i: int, rng: random.Random) -> tuple[str, str, str]:
    """A distinct story about Yarmouk (distinct enough not to be clustered with another)."""
    words = rng.sample(WORDS, 8)
    title = f"Yarmouk {i}: {' '.join(words[:4])}"
    return (f"s{i}", title, f"Report {i} from Yarmouk about {' '.join(words)}.")


def smtp_channel(port: int) -> str:
    return (
        '[[channels]]\nname = "mail"\ntype = "email"\nto = ["desk@example.org"]\n'
        'from = "aggregator@example.org"\nsmtp_host = "127.0.0.1"\n'
        f'smtp_port = {port}\nsecurity = "none"\ntimeout = "2s"\n'
    )


def deliveries(db: Path) -> list[tuple[str, str, int]]:
    """(id, status, attempts) in order of creation."""
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT id, status, attempts FROM deliveries ORDER BY created_at, id"
        ).fetchall()


@pytest.fixture
def smtp_port() -> Iterator[int]:
    yield free_port()


def test_smtp_down_for_ten_minutes_then_every_alert_once_in_order(
    feed_server: FeedServer, make_config: ConfigMaker, tmp_path: Path, smtp_port: int
) -> None:
    rng = random.Random(7)
    items = [story(i, rng) for i in range(5)]
    url = feed_server.set("/f.xml", rss2(items))
    config = make_config(
        [("f", url)],
        extra=smtp_channel(smtp_port),
        watchlists=watchlist_toml("yarmouk", ["Yarmouk"], ["mail"]),
    )
    settings = load_settings(config, os.environ)
    db = Database(settings.storage.url)
    db.migrate()
    start = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
    clock = [start]
    poller = Poller(settings, db, clock=lambda: clock[0], workers=0)
    poller.reconcile()
    dispatcher = Dispatcher(
        db,
        build_channels(settings.channels, True),
        timedelta(days=3),
        "test",
        clock=lambda: clock[0],
    )
    server: SmtpServer | None = None
    new_alerts_at = {timedelta(minutes=m): 3 for m in (3, 7, 9, 14)}  # more alerts meanwhile
    try:

        async def run() -> None:
            nonlocal server
            await poller.poll(poller.active())
            while clock[0] - start < timedelta(minutes=40):
                elapsed = clock[0] - start
                if elapsed >= timedelta(minutes=10) and server is None:
                    server = SmtpServer(port=smtp_port)
                if elapsed in new_alerts_at:
                    more = len(items)
                    items.extend(story(more + i, rng) for i in range(new_alerts_at[elapsed]))
                    feed_server.set("/f.xml", rss2(items))
                    await poller.poll(poller.active())
                await dispatcher.run_once()
                clock[0] += timedelta(seconds=20)

        asyncio.run(run())
    finally:
        poller.close()
        db.dispose()
    assert server is not None
    try:
        rows = deliveries(tmp_path / "data" / "aggregator.db")
        assert len(rows) == len(items) == 17
        assert {status for _, status, _ in rows} == {"delivered"}
        sent = [m.message["Message-ID"] for m in server.messages]
        assert sent == [f"<{delivery_id}@aggregator>" for delivery_id, _, _ in rows], (
            "every alert once, in order of creation"
        )
        subjects = [m.message["Subject"] for m in server.messages]
        assert [s.split(":")[0] for s in subjects] == [f"[yarmouk] Yarmouk {i}" for i in range(17)]
    finally:
        server.close()


def test_control_characters_in_titles_break_no_header_and_block_nothing(
    feed_server: FeedServer,
    smtp_server: SmtpServer,
    make_config: ConfigMaker,
    capsys: pytest.CaptureFixture[str],
) -> None:
    hostile = [
        "Yarmouk&#13;&#10;Bcc: evil@example.net",
        "Yarmouk&#10;&#10;<b>body</b> injection",
        "Yarmouk&#13;Subject: second subject",
        "Yarmouk\t&#x85;&#x2028;&#x2029; separators",
    ]
    items = "".join(
        f"<item><guid>h{i}</guid><title>{title}</title><description>about Yarmouk {i}"
        f" {' '.join(WORDS[i * 5 : i * 5 + 5])}</description></item>"
        for i, title in enumerate(hostile)
    )
    xml = (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'
    )
    json_feed = json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "title": "j",
            "items": [
                {
                    "id": "j1",
                    "title": "Yarmouk\u0000\r\nBcc: evil@example.net",
                    "content_text": "a",
                },
                {
                    "id": "j2",
                    "title": "Yarmouk \u001b[31m \u0007 \ud800 \u2028",
                    "content_text": "b",
                },
            ],
        }
    )
    config = make_config(
        [
            ("x", feed_server.set("/x.xml", xml)),
            ("j", feed_server.set("/j.json", json_feed, content_type="application/feed+json")),
            ("ok", feed_server.set("/ok.xml", rss2([("ok", "Yarmouk plain title", "fine")]))),
        ],
        extra=channels_toml(None, smtp_server),
        watchlists=watchlist_toml("yarmouk", ["Yarmouk"], ["mail"]),
    )
    assert main(["poll", "--config", str(config), "--deliver-timeout", "10"]) == 0
    out = capsys.readouterr().out
    assert "0 failed; " in out.splitlines()[0], out
    assert "7 deliveries sent, 0 to retry, 0 failed; 0 pending" in out, out
    assert len(smtp_server.messages) == 7
    for received in smtp_server.messages:
        message = received.message
        assert received.rcpt_tos == ["desk@example.org"]
        assert message["Bcc"] is None
        assert len(message.get_all("Subject") or []) == 1
        subject = str(message["Subject"])
        assert subject.startswith("[yarmouk] Yarmouk")
        assert not any(ord(c) < 32 or c in "\x7f\x85\u2028\u2029" for c in subject), subject
        assert message.get_content_type() == "multipart/alternative"


def test_email_with_unencodable_text_is_still_sent(smtp_server: SmtpServer) -> None:
    alert = make_alert(
        title="Yarmouk \ud800 camp", summary="<p>lone \udcff surrogate</p>", feed_name="f\ud83d"
    )
    assert send_all(mailer(smtp_server), alert) == [None]
    assert "Yarmouk ? camp" in str(smtp_server.messages[0].message["Subject"])


@dataclass
class BuggyChannel:
    """Raises a plain exception (a bug) for alerts whose title says so, twice."""

    name: str = "mail"
    sent: list[str] = field(default_factory=list)
    raised: int = 0

    async def send(self, alert: Alert) -> None:
        if "poison" in alert.story.title and self.raised < 2:
            self.raised += 1
            raise KeyError("a bug in the channel")
        self.sent.append(alert.story.title)

    async def aclose(self) -> None:
        pass


def test_a_channel_bug_is_retried_and_blocks_nothing(
    feed_server: FeedServer, make_config: ConfigMaker, tmp_path: Path, smtp_port: int
) -> None:
    rng = random.Random(3)
    items = [("p", "Yarmouk poison pill", "the poison story"), *(story(i, rng) for i in range(3))]
    config = make_config(
        [("f", feed_server.set("/f.xml", rss2(items)))],
        extra=smtp_channel(smtp_port),
        watchlists=watchlist_toml("yarmouk", ["Yarmouk"], ["mail"]),
    )
    settings = load_settings(config, os.environ)
    db = Database(settings.storage.url)
    db.migrate()
    clock = [datetime(2026, 11, 21, tzinfo=UTC)]
    poller = Poller(settings, db, clock=lambda: clock[0], workers=0)
    poller.reconcile()
    channel = BuggyChannel()
    dispatcher = Dispatcher(db, {"mail": channel}, timedelta(days=3), "t", clock=lambda: clock[0])
    try:

        async def run() -> None:
            await poller.poll(poller.active())
            for _ in range(6):
                await dispatcher.run_once()
                clock[0] += timedelta(minutes=10)

        asyncio.run(run())
    finally:
        poller.close()
        db.dispose()
    assert channel.raised == 2
    assert sorted(channel.sent) == sorted(title for _, title, _ in items)
    assert channel.sent[-1] == "Yarmouk poison pill", "the others did not wait for it"
    assert {s for _, s, _ in deliveries(tmp_path / "data" / "aggregator.db")} == {"delivered"}
