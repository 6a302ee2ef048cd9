"""Several `aggregator run` instances on one PostgreSQL database share the work.

Three instances, a feed server that records any path requested again while it is still
being served, a webhook receiver that verifies signatures; one instance is SIGKILLed
halfway. Every feed must be polled, none by two instances at once, every alert
delivered once, and the dead instance's claims taken over within two lease periods.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import ConfigMaker
from tests.helpers.alerting import SECRET_ENV, channels_toml, watchlist_toml
from tests.helpers.daemon import DaemonProcess, wait_until
from tests.helpers.feeds import rss2
from tests.helpers.feedserver import FeedServer
from tests.helpers.receivers import WebhookReceiver

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

FEEDS = 150
LEASE = timedelta(seconds=6)


def _feeds(feed_server: FeedServer) -> tuple[list[tuple[str, str]], int]:
    """FEEDS feeds; every fifth carries a Yarmouk story; feeds i and i+1 share some links."""
    feeds, alerting = [], set()
    for i in range(FEEDS):
        items = [(f"f{i}-{k}", f"Ordinary story {i}-{k}", "nothing to see") for k in range(3)]
        if i % 5 == 0:
            story = i // 10  # pairs of feeds carry the same story (same guid base and link)
            items.append((f"yarmouk-{story}", f"Yarmouk camp report {story}", "Yarmouk"))
            alerting.add(story)
        url = feed_server.set(f"/f{i}.xml", rss2(items), delay=0.3)
        feeds.append((f"f{i}", url))
    return feeds, len(alerting)


def _db_rows(url: str, sql: str) -> list[tuple[object, ...]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql))]
    finally:
        engine.dispose()


def test_three_instances_share_feeds_and_deliveries_and_survive_a_kill(
    pg_url: str,
    make_config: ConfigMaker,
    feed_server: FeedServer,
    webhook_receiver: WebhookReceiver,
    tmp_path: Path,
) -> None:
    feeds, expected_alerts = _feeds(feed_server)
    config = make_config(
        feeds,
        storage_url=pg_url,
        extra=(
            '[polling]\nconcurrency = 8\nper_host_concurrency = 8\nlease = "6s"\n'
            'default_interval = "1h"\nmin_interval = "1h"\n'
            '[alerts]\ndeliver_interval = "1s"\n' + channels_toml(webhook_receiver, None)
        ),
        watchlists=watchlist_toml("yarmouk", ["Yarmouk"], ["hook"]),
    )
    env = {SECRET_ENV: webhook_receiver.secret or ""}
    daemons = {
        name: DaemonProcess(
            config, tmp_path / f"{name}.log", {**env, "AGGREGATOR_INSTANCE_ID": name}
        )
        for name in ("one", "two", "three")
    }
    psql = pg_url
    try:
        wait_until(lambda: len(feed_server.requests) >= 40, timeout=60)
        daemons["two"].kill()
        killed_at = datetime.now(UTC)
        held = [r[0] for r in _db_rows(psql, "SELECT name FROM feeds WHERE lease_owner = 'two'")]
        wait_until(
            lambda: (
                _db_rows(psql, "SELECT count(*) FROM feeds WHERE last_fetched_at IS NULL") == [(0,)]
            ),
            timeout=90,
        )
        wait_until(lambda: len(webhook_receiver.deliveries) >= expected_alerts, timeout=30)
        time.sleep(2)  # room for a wrong second delivery to show up
    finally:
        codes = [d.stop() for name, d in daemons.items() if name != "two"]
    assert codes == [0, 0]
    assert feed_server.overlaps == [], "a feed was fetched by two instances at once"
    ids = [d[0] for d in webhook_receiver.deliveries]
    assert len(ids) == len(set(ids)) == expected_alerts
    stories = [d[1]["story"]["id"] for d in webhook_receiver.deliveries]
    assert len(stories) == len(set(stories))
    fetched = dict(
        (str(name), when)
        for name, when in _db_rows(psql, "SELECT name, last_fetched_at FROM feeds")
    )
    for name in held:
        when = fetched[name]
        assert isinstance(when, datetime)
        assert when - killed_at <= 2 * LEASE + timedelta(seconds=5), name
    pollers = {r[0] for r in _db_rows(psql, "SELECT id FROM instances")}
    assert pollers == {"one", "two", "three"}
