"""One story, one alert: syndicated copies across feeds, shared boilerplate, and merges."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import Session

from aggregator.cli import main
from aggregator.dedup import DedupPolicy
from aggregator.fingerprint import feed_fingerprints
from aggregator.normalize import canonical_url
from aggregator.pipeline import Poller
from aggregator.settings import load_settings
from aggregator.storage import feeds as feed_store
from aggregator.storage import outbox
from aggregator.storage.db import Database
from aggregator.storage.ingest import ingest
from aggregator.storage.stories import story_sources
from aggregator.storage.storyinfo import AlertRow, SourceRow, StoryDetail
from aggregator.storyview import story_text
from aggregator.types import EntryData, FeedState, MatchResult, Route
from tests.conftest import ConfigMaker
from tests.helpers.alerting import SECRET_ENV, channels_toml, watchlist_toml
from tests.helpers.feedserver import FeedServer
from tests.helpers.receivers import WebhookReceiver
from tests.helpers.stories import BODY, HOUSE, LEAD, OTHER, RELATED, TRAILER, WP, rss_items

TITLE = "Fighters seize Yarmouk camp in Damascus"
COPIES = {  # feed -> (guid, title, link, text): one wire story as four outlets carry it
    "wire": ("w-1", TITLE, "https://wire.example/2026/yarmouk?utm_source=rss",
             "\n".join([LEAD, *BODY, TRAILER])),
    "levant": ("l-77", f"BREAKING: {TITLE} (update)", "https://levant.example/news/77",
               "\n".join([f"DAMASCUS (Reuters) - {LEAD}", *BODY[:-1], WP.format(t=TITLE)])),
    "city": ("c-9", f"{TITLE.title()} - City Press", "https://city.example/a/9?utm_campaign=x",
             "\n".join(["Yarmouk has fallen, residents told us on Wednesday.", *BODY, RELATED])),
    "late": ("z-1", f"UPDATE 2-{TITLE}", "https://late.example/z1?fbclid=abc",
             "\n".join([LEAD, *BODY[1:], "Follow us on Twitter."])),
}  # fmt: skip


@pytest.fixture(autouse=True)
def _secret(webhook_receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch) -> None:
    assert webhook_receiver.secret is not None
    monkeypatch.setenv(SECRET_ENV, webhook_receiver.secret)


def _config(make_config: ConfigMaker, feeds: dict[str, str], hook: WebhookReceiver) -> Path:
    return make_config(
        list(feeds.items()),
        extra=channels_toml(hook, None),
        watchlists=watchlist_toml("yarmouk", ["Yarmouk"], ["hook"]),
    )


def _poll(config: Path, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["poll", "--config", str(config), "--deliver-timeout", "10"]) == 0
    return capsys.readouterr().out


def test_a_story_in_three_feeds_alerts_once_with_every_source(
    feed_server: FeedServer,
    webhook_receiver: WebhookReceiver,
    make_config: ConfigMaker,
    capsys: pytest.CaptureFixture[str],
) -> None:
    urls = {name: feed_server.set(f"/{name}.xml", rss_items([COPIES[name]])) for name in COPIES}
    feed_server.set("/late.xml", rss_items([]))
    config = _config(make_config, urls, webhook_receiver)
    out = _poll(config, capsys)
    assert "3 new entries" in out and "1 new matches" in out, out
    ((_, body),) = webhook_receiver.deliveries
    sources = body["story"]["sources"]
    assert sorted(s["feed"] for s in sources) == ["city", "levant", "wire"]
    assert {s["url"] for s in sources} == {COPIES[n][2] for n in ("wire", "levant", "city")}

    feed_server.set("/late.xml", rss_items([COPIES["late"]]))  # a fourth outlet, later
    out = _poll(config, capsys)
    assert "1 new entries" in out and "0 new matches" in out, out
    assert len(webhook_receiver.deliveries) == 1, "a late source must not alert again"

    assert main(["stories", "show", body["story"]["id"], "--config", str(config)]) == 0
    shown = capsys.readouterr().out
    assert "sources (4):" in shown and "alerts (1):" in shown, shown
    for name, (_, _, link, _) in COPIES.items():
        assert name in shown and link in shown
    assert body["id"] in shown and "delivered" in shown


def test_distinct_stories_with_the_same_boilerplate_stay_apart(
    feed_server: FeedServer,
    webhook_receiver: WebhookReceiver,
    make_config: ConfigMaker,
    capsys: pytest.CaptureFixture[str],
) -> None:
    house = [  # one outlet's feed: every item ends with the same long house trailer
        ("h-1", "Yarmouk camp falls", "https://city.example/1", "\n".join([LEAD, BODY[0], HOUSE])),
        ("h-2", "Yarmouk shelled again", "https://city.example/2",
         "\n".join([OTHER[0], OTHER[1], HOUSE])),
        ("h-3", "Border closes", "https://city.example/3",
         "Jordan closed its northern border crossing on Monday after clashes.\n" + HOUSE),
        ("h-4", "Storm hits Lebanon", "https://city.example/4",
         "A winter storm flooded tents in the Bekaa valley on Sunday, aid groups said.\n" + HOUSE),
    ]  # fmt: skip
    copy = ("w-5", "Yarmouk camp falls", "https://wire.example/5", f"{LEAD}\n{BODY[0]}\n{TRAILER}")
    urls = {
        "city": feed_server.set("/city.xml", rss_items(house)),
        "wire": feed_server.set("/wire.xml", rss_items([copy])),
    }
    out = _poll(_config(make_config, urls, webhook_receiver), capsys)
    assert "2 new matches" in out, out
    sources = sorted(
        sorted(s["url"] for s in body["story"]["sources"])
        for _, body in webhook_receiver.deliveries
    )
    assert sources == [
        ["https://city.example/1", "https://wire.example/5"],
        ["https://city.example/2"],
    ]


# --- merges, on both backends --------------------------------------------------------

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
STORY_A = "\n".join([LEAD, *BODY[:4]])  # short enough that both fit in one fingerprint
STORY_B = "\n".join(OTHER[:4])


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    database.migrate()
    yield database
    database.dispose()


def _feeds(db: Database, names: list[str]) -> dict[str, FeedState]:
    with db.transaction() as s:
        configured = [feed_store.ConfiguredFeed(n, f"https://{n}.example/feed") for n in names]
        feed_store.reconcile_feeds(s, configured, NOW)
        return {f.name: f for f in feed_store.active_feeds(s)}


def _entry(key: str, title: str, body: str, link: str) -> EntryData:
    return EntryData(key, link, canonical_url(link), title, "", body, "", (), None, None, key)


def _route(*watchlists: str) -> list[Route]:
    return [Route(MatchResult(w, ("Yarmouk",), ()), ("hook",)) for w in watchlists]


def _store(
    s: Session, feed: FeedState, item: EntryData, watchlists: tuple[str, ...], policy: DedupPolicy
) -> int:
    """Matches recorded for one new entry."""
    routes = {item.entry_key: _route(*watchlists)}
    prints = feed_fingerprints([item])
    return ingest(s, feed, [item], routes, NOW, prints, policy)[2]


def _rows(db: Database, sql: str) -> list[tuple[object, ...]]:
    with db.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql)).all()]


@pytest.mark.parametrize("how", ["url-and-text", "text"])
def test_an_entry_that_merges_two_stories_alerts_no_watchlist_twice(db: Database, how: str) -> None:
    feeds = _feeds(db, ["a", "b", "c", "d"])
    policy = DedupPolicy(similarity=0.4)  # a text bridge is the union of both stories
    a = _entry("a1", "Yarmouk camp falls", STORY_A, "https://a.example/1")
    b = _entry("b1", "Yarmouk shelled", STORY_B, "https://b.example/1")
    if how == "url-and-text":  # the URL of the first story, the text of the second
        bridge = _entry("c1", "Camp news", STORY_B, "https://a.example/1?utm_source=x")
    else:  # both texts, a link of its own
        bridge = _entry("c1", "Camp news", f"{STORY_A}\n{STORY_B}", "https://c.example/1")
    later = _entry("d1", "Yarmouk shelled", STORY_B, "https://d.example/1")
    every = ("w1", "w2", "w3")
    with db.transaction() as s:
        assert _store(s, feeds["a"], a, ("w1",), policy) == 1
        assert _store(s, feeds["b"], b, ("w1", "w3"), policy) == 2, "two stories, two alerts"
    with db.transaction() as s:
        assert _store(s, feeds["c"], bridge, every, policy) == 1, "only w2 is new"
        assert _store(s, feeds["d"], later, every, policy) == 0
    first, second = (int(str(i)) for (i,) in _rows(db, "SELECT id FROM stories ORDER BY id"))
    assert _rows(db, "SELECT id, merged_into FROM stories ORDER BY id") == [
        (first, None),
        (second, first),
    ]
    assert {r[0] for r in _rows(db, "SELECT story_id FROM entries")} == {first}
    matches = _rows(db, "SELECT watchlist, story_id FROM matches ORDER BY watchlist, story_id")
    assert matches == [("w1", first), ("w1", second), ("w2", first), ("w3", second)]
    (delivery,) = _rows(db, "SELECT d.id FROM deliveries d JOIN matches m ON m.id = d.match_id "
                            "WHERE m.watchlist = 'w3'")  # fmt: skip
    with db.transaction() as s:
        assert [x.feed for x in story_sources(s, second)] == ["a", "b", "c", "d"]
        alert = outbox.load_alert(s, str(delivery[0]))  # queued before the merge
    assert alert.story.id == str(first) and len(alert.story.sources) == 4


def test_any_sources_url_leads_to_the_story(db: Database) -> None:
    """A copy joined by its text lends its URL to the story: a later short item linking
    there (too short to compare by text) joins too, even in another feed."""
    feeds = _feeds(db, ["wire", "levant", "digest"])
    wire = _entry("w", TITLE, STORY_A, "https://wire.example/1")
    copy = _entry("l", f"BREAKING: {TITLE}", STORY_A, "https://levant.example/77")
    brief = _entry("d", "In brief", "Yarmouk falls.", "https://levant.example/77?utm_source=x")
    with db.transaction() as s:
        for name, item in (("wire", wire), ("levant", copy), ("digest", brief)):
            _store(s, feeds[name], item, ("w1",), DedupPolicy())
    assert _rows(db, "SELECT count(DISTINCT story_id), count(*) FROM entries") == [(1, 3)]
    assert _rows(db, "SELECT count(*) FROM matches") == [(1,)]


def test_stories_show_says_where_a_merged_story_went() -> None:
    seen = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
    detail = StoryDetail(
        id=4,
        asked=9,
        title=TITLE,
        url="https://wire.example/1",
        feed="wire",
        published=None,
        created_at=seen,
        merged=(9,),
        sources=(SourceRow("wire", "https://wire.example/1", TITLE, seen),),
        alerts=(
            AlertRow("w1", ("Yarmouk",), "hook", "delivered", 1, seen, seen, "msg_1", 9),
            AlertRow("w2", ("Yarmouk",), "hook", "pending", 2, seen, None, "msg_2", 4),
        ),
    )
    shown = story_text(detail)
    assert shown.startswith("story 9 was merged into story 4\nstory 4: Fighters seize")
    assert "merged:    9" in shown and "2026-11-20 09:30:00Z  https://wire.example/1" in shown
    assert "w1 (on story 9)  hook" in shown and "pending (2 attempts)" in shown


def test_a_running_poller_fingerprints_new_entries_of_a_feed_it_polled_before(
    feed_server: FeedServer, make_config: ConfigMaker
) -> None:
    """The daemon's poller skips fingerprints of entries it saw last time (not new), so
    an entry that is new in a feed already polled must still get one and join its story."""
    wire = feed_server.set("/wire.xml", rss_items([COPIES["wire"]]))
    storm = ("z-0", "Storm", "https://late.example/0", "A storm flooded tents in the Bekaa.")
    late = feed_server.set("/late.xml", rss_items([storm]))
    config = make_config([("wire", wire), ("late", late)])
    settings = load_settings(config, dict(os.environ))
    db = Database(settings.storage.url)
    db.migrate()
    clock = [NOW]
    poller = Poller(settings, db, clock=lambda: clock[0], workers=0)
    poller.reconcile()
    try:
        asyncio.run(poller.poll(poller.active()))
        feed_server.set("/late.xml", rss_items([COPIES["late"]]))
        clock[0] += timedelta(hours=1)
        asyncio.run(poller.poll(poller.active()))
    finally:
        poller.close()
    rows = _rows(db, "SELECT entry_key, story_id FROM entries ORDER BY entry_key")
    db.dispose()
    stories = {str(key): story for key, story in rows}
    assert stories["z-1"] == stories["w-1"] != stories["z-0"]
