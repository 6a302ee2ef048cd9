"""`aggregator run` as a subprocess: schedule, deliver, reload, stop, and SIGKILL recovery."""

from __future__ import annotations

import signal
import sqlite3
import time
from pathlib import Path

import pytest

from tests.conftest import ConfigMaker
from tests.helpers.alerting import SECRET_ENV, channels_toml, watchlist_toml
from tests.helpers.daemon import DaemonProcess, wait_until
from tests.helpers.feeds import rss2
from tests.helpers.feedserver import FeedServer
from tests.helpers.receivers import WebhookReceiver

pytestmark = pytest.mark.slow

FAST = '[alerts]\ndeliver_interval = "1s"\n'


def _feeds_toml(url: str) -> str:
    return f'[[feeds]]\nname = "news"\nurl = "{url}"\ninterval = "1s"\n'


def _setup(
    make_config: ConfigMaker, feed_server: FeedServer, receiver: WebhookReceiver, terms: list[str]
) -> Path:
    url = feed_server.set("/f.xml", rss2([("g1", "Yarmouk camp shelled", "body")]))
    config = make_config(
        extra=FAST + channels_toml(receiver, None),
        watchlists=watchlist_toml("watch", terms, ["hook"]),
    )
    (config / "feeds.toml").write_text(_feeds_toml(url))
    return config


def _deliveries(tmp_path: Path) -> list[tuple[str, str]]:
    """The outbox rows; [] while the daemon has not created the database yet."""
    path = tmp_path / "data" / "aggregator.db"
    if not path.exists():
        return []
    with sqlite3.connect(path) as conn:
        try:
            return conn.execute("SELECT id, status FROM deliveries").fetchall()
        except sqlite3.OperationalError:
            return []


def _start(config: Path, tmp_path: Path, receiver: WebhookReceiver) -> DaemonProcess:
    assert receiver.secret is not None
    return DaemonProcess(config, tmp_path / "daemon.log", {SECRET_ENV: receiver.secret})


def test_daemon_alerts_reloads_and_stops_cleanly(
    make_config: ConfigMaker,
    feed_server: FeedServer,
    webhook_receiver: WebhookReceiver,
    tmp_path: Path,
) -> None:
    config = _setup(make_config, feed_server, webhook_receiver, ["Yarmouk"])
    daemon = _start(config, tmp_path, webhook_receiver)
    try:
        wait_until(lambda: len(webhook_receiver.deliveries) == 1)
        # A watchlist edit takes effect without a restart.
        (config / "watchlists.toml").write_text(watchlist_toml("watch", ["Aleppo"], ["hook"]))
        wait_until(lambda: "config reloaded" in daemon.log())
        feed_server.set("/f.xml", rss2([("g2", "Yarmouk again", "b"), ("g3", "Aleppo siege", "b")]))
        wait_until(lambda: len(webhook_receiver.deliveries) == 2)
        assert webhook_receiver.deliveries[1][1]["story"]["title"] == "Aleppo siege"
        # An invalid edit is refused with file and key; the previous watchlists keep working.
        (config / "watchlists.toml").write_text('[[watchlists]]\nname = "watch"\nanny = ["x"]\n')
        wait_until(lambda: "watchlists.toml: watchlists[0].anny" in daemon.log())
        feed_server.set("/f.xml", rss2([("g4", "Aleppo convoy", "b"), ("g5", "Yarmouk", "b")]))
        wait_until(lambda: len(webhook_receiver.deliveries) == 3)
        assert webhook_receiver.deliveries[2][1]["story"]["title"] == "Aleppo convoy"
        time.sleep(1.5)
        assert len(webhook_receiver.deliveries) == 3
    finally:
        started = time.monotonic()
        code = daemon.stop(signal.SIGTERM)
    assert code == 0, daemon.log()
    assert time.monotonic() - started < 10
    assert "stopped" in daemon.log()


def test_sigkill_between_matching_and_delivery_loses_nothing(
    make_config: ConfigMaker,
    feed_server: FeedServer,
    webhook_receiver: WebhookReceiver,
    tmp_path: Path,
) -> None:
    config = _setup(make_config, feed_server, webhook_receiver, ["Yarmouk"])
    webhook_receiver.stall(60)  # the first delivery hangs: the daemon is mid-send
    daemon = _start(config, tmp_path, webhook_receiver)
    wait_until(lambda: _deliveries(tmp_path) != [])
    time.sleep(0.5)
    daemon.kill()
    assert [status for _id, status in _deliveries(tmp_path)] == ["pending"]
    assert webhook_receiver.deliveries == []
    daemon = _start(config, tmp_path, webhook_receiver)
    try:
        wait_until(lambda: len(webhook_receiver.deliveries) == 1)
    finally:
        assert daemon.stop() == 0
    rows = _deliveries(tmp_path)
    assert len(rows) == 1 and rows[0][1] == "delivered"
    assert {d[0] for d in webhook_receiver.deliveries} == {rows[0][0]}, "same delivery id"


def test_sighup_reloads_at_once(
    make_config: ConfigMaker,
    feed_server: FeedServer,
    webhook_receiver: WebhookReceiver,
    tmp_path: Path,
) -> None:
    config = _setup(make_config, feed_server, webhook_receiver, ["Yarmouk"])
    daemon = _start(config, tmp_path, webhook_receiver)
    try:
        wait_until(lambda: "aggregator running" in daemon.log())
        daemon.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "config reloaded (SIGHUP)" in daemon.log(), timeout=5)
    finally:
        assert daemon.stop(signal.SIGINT) == 0


def test_second_instance_on_one_sqlite_file_refuses_to_start(
    make_config: ConfigMaker,
    feed_server: FeedServer,
    webhook_receiver: WebhookReceiver,
    tmp_path: Path,
) -> None:
    config = _setup(make_config, feed_server, webhook_receiver, ["Yarmouk"])
    first = _start(config, tmp_path, webhook_receiver)
    try:
        wait_until(lambda: "aggregator running" in first.log())
        second = DaemonProcess(
            config, tmp_path / "second.log", {SECRET_ENV: webhook_receiver.secret or ""}
        )
        assert second.proc.wait(20) == 1
        assert "another aggregator instance (pid" in second.log()
        assert "use PostgreSQL for several" in second.log()
    finally:
        assert first.stop() == 0
    # The lock dies with its holder: a SIGKILLed instance never blocks the next start.
    third = _start(config, tmp_path, webhook_receiver)
    try:
        wait_until(lambda: "aggregator running" in third.log())
    finally:
        third.kill()
    fourth = DaemonProcess(
        config, tmp_path / "fourth.log", {SECRET_ENV: webhook_receiver.secret or ""}
    )
    try:
        wait_until(lambda: "aggregator running" in fourth.log())
    finally:
        assert fourth.stop() == 0


def test_more_due_feeds_than_one_claim_are_all_polled(
    make_config: ConfigMaker,
    feed_server: FeedServer,
    webhook_receiver: WebhookReceiver,
    tmp_path: Path,
) -> None:
    """Start-up and the scheduled job both poll; the batches must not strand each other."""
    feeds = [
        (f"f{i}", feed_server.set(f"/f{i}.xml", rss2([(f"g{i}", f"Story {i}", "b")]), delay=0.3))
        for i in range(20)
    ]
    config = make_config(
        feeds,
        extra="[polling]\nconcurrency = 2\nper_host_concurrency = 2\n"
        + FAST
        + channels_toml(webhook_receiver, None),
        watchlists=watchlist_toml("watch", ["Story"], ["hook"]),
    )
    daemon = _start(config, tmp_path, webhook_receiver)
    try:
        wait_until(lambda: len(webhook_receiver.deliveries) == 20, timeout=60)
    finally:
        assert daemon.stop() == 0
    assert all(len(feed_server.requests_for(f"/f{i}.xml")) == 1 for i in range(20))
