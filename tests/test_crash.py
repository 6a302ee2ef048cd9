"""Crash consistency: `aggregator run` killed with SIGKILL again and again loses nothing.

The daemon polls three feeds every second and delivers to a recording webhook receiver
that takes a little time per request. Before each start the feeds gain new stories, so
every run has work; each run is killed with SIGKILL at a moment chosen in turn: just
after it says it is running (polling and storing), just after the receiver got a
request (delivering), or at a random time. After KILLS kills the daemon runs to the end
and stops cleanly. Then: every story's alert arrived, no (watchlist, story, channel) got
two different webhook-ids, the outbox is all delivered, SQLite's integrity check passes,
and no process of a killed daemon (fork server, parser workers) is left running.
"""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from tests.conftest import ConfigMaker
from tests.helpers.alerting import channels_toml, watchlist_toml
from tests.helpers.daemon import DaemonProcess, wait_until
from tests.helpers.feeds import rss2
from tests.helpers.feedserver import FeedServer
from tests.helpers.receivers import WebhookReceiver

pytestmark = pytest.mark.slow

KILLS = 24
FEEDS = ("alpha", "beta", "gamma")
_WORDS = (
    "convoy ceasefire harvest drought parliament election bridge flood refinery strike museum "
    "vaccine railway monsoon tariff embassy reservoir festival satellite pipeline orchard "
    "glacier court ferry quarry airport census typhoon lottery carnival"
)
WORDS = _WORDS.split()


def _story(n: int, rng: random.Random) -> tuple[str, str, str]:
    words = " ".join(rng.sample(WORDS, 10))
    return (f"story-{n}", f"Yarmouk bulletin {n}: {words[:40].strip()}", f"Yarmouk {n}: {words}")


def _deliveries(db: Path) -> list[tuple[str, str]]:
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return conn.execute("SELECT id, status FROM deliveries").fetchall()
    except sqlite3.Error:
        return []


def test_sigkill_at_random_moments_loses_and_doubles_nothing(
    make_config: ConfigMaker,
    feed_server: FeedServer,
    webhook_receiver: WebhookReceiver,
    tmp_path: Path,
) -> None:
    rng = random.Random(20261121)
    stories: dict[str, list[tuple[str, str, str]]] = {name: [] for name in FEEDS}
    urls = {name: feed_server.set(f"/{name}.xml", rss2([]), delay=0.1) for name in FEEDS}
    config = make_config(
        extra='[alerts]\ndeliver_interval = "1s"\n' + channels_toml(webhook_receiver, None),
        watchlists=watchlist_toml("watch", ["Yarmouk"], ["hook"]),
    )
    (config / "feeds.toml").write_text(
        "".join(f'[[feeds]]\nname = "{n}"\nurl = "{u}"\ninterval = "1s"\n' for n, u in urls.items())
    )
    (tmp_path / "data").mkdir(exist_ok=True)
    db = tmp_path / "data" / "aggregator.db"
    webhook_receiver.stall(0.05, times=100_000)  # each delivery takes a moment
    assert webhook_receiver.secret is not None
    run_mark = f"crash-{uuid.uuid4().hex}"  # in the environment of every process we start
    env = {"TEST_WEBHOOK_SECRET": webhook_receiver.secret, "AGGREGATOR_CRASH_RUN": run_mark}
    log = tmp_path / "daemon.log"
    made, phases = 0, defaultdict[str, int](int)

    for kill in range(KILLS):
        for _ in range(6):  # new stories before every start: work for each run
            name = FEEDS[made % len(FEEDS)]
            stories[name].append(_story(made, rng))
            made += 1
        for name in FEEDS:
            feed_server.set(f"/{name}.xml", rss2(stories[name]), delay=0.1)
        fetches_before = len(feed_server.requests)
        attempts_before = len(webhook_receiver.attempts)
        daemon = DaemonProcess(config, log, env)
        try:
            moment = kill % 3
            if moment == 0:  # polling and storing: once the feeds are being fetched
                wait_until(_grew(feed_server.requests, fetches_before), 30)
                time.sleep(rng.uniform(0.0, 0.4))
            elif moment == 1:  # delivering: right after the receiver got a request
                wait_until(_grew(webhook_receiver.attempts, attempts_before), 30)
                time.sleep(rng.uniform(0.0, 0.1))
            else:
                time.sleep(rng.uniform(0.3, 3.0))
        finally:
            daemon.kill()
        phases[_phase(db, made, fetched=len(feed_server.requests) > fetches_before)] += 1

    daemon = DaemonProcess(config, log, env)
    try:
        titles = {title for feed in stories.values() for _, title, _ in feed}
        wait_until(lambda: titles <= _delivered_titles(webhook_receiver), timeout=90)
        wait_until(lambda: {s for _, s in _deliveries(db)} == {"delivered"}, timeout=30)
    finally:
        code = daemon.stop(signal.SIGTERM)
    assert code == 0, daemon.log()[-3000:]
    # Parser workers of the killed daemons exit by themselves (and so do their fork servers).
    wait_until(lambda: _processes_marked(run_mark) == [], timeout=10)

    ids_by_story: dict[tuple[str, str], set[str]] = defaultdict(set)
    cut = [a for a in webhook_receiver.attempts if not a.verified]  # a sender killed mid-request
    for attempt in webhook_receiver.attempts:
        if not attempt.verified:
            continue
        body = json.loads(attempt.body)
        ids_by_story[(body["watchlist"], body["story"]["title"])].add(attempt.headers["webhook-id"])
    doubled = {key: ids for key, ids in ids_by_story.items() if len(ids) > 1}
    assert not doubled, f"stories with two webhook-ids: {doubled}"
    assert {title for _, title in ids_by_story} == titles
    rows = _deliveries(db)
    assert len(rows) == len(titles) == made
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        matches = conn.execute("SELECT count(*) FROM matches").fetchone()[0]
    assert matches == made
    print(
        f"\ncrash harness: {KILLS} SIGKILLs ({dict(phases)}), {made} stories, "
        f"{len(webhook_receiver.attempts)} webhook requests ({len(cut)} cut short), "
        f"{len(webhook_receiver.deliveries)} accepted, {len(titles)} distinct alerts, "
        f"{len(webhook_receiver.deliveries) - len(titles)} repeats with the same id"
    )


def _phase(db: Path, made: int, *, fetched: bool) -> str:
    """What the killed run was doing: judged from what it left behind."""
    if not fetched:
        return "starting"
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            entries = conn.execute("SELECT count(*) FROM entries").fetchone()[0]
    except sqlite3.Error:
        entries = 0
    if entries < made:
        return "polling/storing"
    if any(status == "pending" for _, status in _deliveries(db)):
        return "delivering"
    return "idle"


def _grew(items: Sequence[object], size: int) -> Callable[[], bool]:
    return lambda: len(items) > size


def _processes_marked(mark: str) -> list[int]:
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if f"AGGREGATOR_CRASH_RUN={mark}".encode() in environ.read_bytes():
                found.append(int(environ.parent.name))
        except OSError:
            continue
    return found


def _delivered_titles(receiver: WebhookReceiver) -> set[str]:
    return {body["story"]["title"] for _, body in list(receiver.deliveries)}
