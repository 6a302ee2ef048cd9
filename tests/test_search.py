"""Queries in the config, `aggregator watchlists test` and `aggregator search` over polled feeds.

Storage tests poll real loopback feeds with `aggregator poll` into a real SQLite file or
a fresh PostgreSQL database, then run the commands against what was stored.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import select

from aggregator.cli import main
from aggregator.errors import ConfigErrors
from aggregator.match import WatchlistSpec
from aggregator.search import backtest, search
from aggregator.settings import load_settings
from aggregator.storage.db import Database
from aggregator.storage.models import Entry
from tests.conftest import ConfigMaker
from tests.helpers.feeds import atom, rss2
from tests.helpers.feedserver import FeedServer

CONSOLE = '[[channels]]\nname = "console"\ntype = "log"\n'
WATCHLISTS = """\
[[watchlists]]
name = "yarmouk"
query = '("Yarmouk" OR Yarmuk) AND (camp OR refugees) -football'
channels = ["console"]

[[watchlists]]
name = "arabic"
any = ["اليرموك"]
channels = ["console"]
tags = ["arab"]

[[watchlists]]
name = "red"
all = ["Red Crescent"]
none = ["drill"]
channels = ["console"]
"""

WIRE = [
    ("w1", "Shelling hits Yarmouk camp", "Residents of the Yarmouk camp fled south."),
    ("w2", "Yarmuk refugees return", "Hundreds of refugees went back to al-Yarmuk."),
    ("w3", "Yarmouk football final", "The Yarmouk club won; camp fans cheered."),
    ("w4", "Red Crescent convoy", "A Red-Crescent convoy reached the camp."),
    ("w5", "Red Crescent drill", "A Red Crescent drill in Amman."),
    ("w6", "Markets", "Oil prices rose."),
]
ARAB = [("a1", "مخيم ٱليرموك", "قصف على مخيم الْيَرْمُوك"), ("a2", "دمشق", "أخبار")]


def _config(make_config: ConfigMaker, server: FeedServer, storage_url: str) -> Path:
    wire = server.set("/wire.xml", rss2(WIRE))
    arab = server.set("/arab.xml", atom(ARAB, link_base="https://arab.example.org/"))
    config = make_config(
        [("wire", wire)], storage_url=storage_url, extra=CONSOLE, watchlists=WATCHLISTS
    )
    feeds = (config / "feeds.toml").read_text()
    (config / "feeds.toml").write_text(
        feeds + f'\n[[feeds]]\nname = "arab"\nurl = "{arab}"\ntags = ["arab"]\n'
    )
    return config


@pytest.fixture
def polled(
    make_config: ConfigMaker,
    feed_server: FeedServer,
    db_url: str,
    capsys: pytest.CaptureFixture[str],
) -> Path:
    config = _config(make_config, feed_server, db_url)
    assert main(["poll", "--config", str(config), "--deliver-timeout", "2"]) == 0
    assert "8 new entries" in capsys.readouterr().out
    return config


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _counts(url: str) -> tuple[int, int]:
    db = Database(url)
    try:
        with db.transaction() as session:
            matches = session.execute(text("SELECT count(*) FROM matches")).scalar_one()
            deliveries = session.execute(text("SELECT count(*) FROM deliveries")).scalar_one()
    finally:
        db.dispose()
    return int(matches), int(deliveries)


# ------------------------------------------------------------------------- config


def test_check_reports_a_query_syntax_error_with_file_watchlist_and_column(
    make_config: ConfigMaker, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = WATCHLISTS.replace("-football'", "-football) OR (x'").replace('tags = ["arab"]', "")
    config = make_config(extra=CONSOLE, watchlists=bad)
    code, _, err = _run(capsys, "check", "--config", str(config))
    assert code == 1
    assert err == (
        "config error: watchlists.toml: watchlists[0].query: column 55: unbalanced parenthesis\n"
    )


def test_check_reports_bad_terms_and_a_query_that_needs_a_positive_term(
    make_config: ConfigMaker, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = (
        WATCHLISTS.replace('none = ["drill"]', 'none = ["drill", "Pal*stine"]\nquery = "a (b"')
        .replace('any = ["اليرموك"]', "query = '-football'")
        .replace('tags = ["arab"]', "")
    )
    config = make_config(extra=CONSOLE, watchlists=bad)
    code, _, err = _run(capsys, "check", "--config", str(config))
    assert code == 1
    assert "watchlists.toml: watchlists[1].query: would match entries that contain none" in err
    assert "watchlists.toml: watchlists[2].none[1]: term 'Pal*stine'" in err
    assert "watchlists.toml: watchlists[2].query: column 3: unbalanced parenthesis" in err
    good = make_config(extra=CONSOLE, watchlists=WATCHLISTS.replace('tags = ["arab"]', ""))
    assert _run(capsys, "check", "--config", str(good))[0] == 0


def test_a_bad_query_at_reload_is_a_config_error_not_a_crash(make_config: ConfigMaker) -> None:
    config = make_config(extra=CONSOLE, watchlists=WATCHLISTS.replace('tags = ["arab"]', ""))
    settings = load_settings(config, {})
    assert settings.watchlists[0].query is not None and settings.watchlists[0].any == ()
    assert settings.watchlists[2].all == ("Red Crescent",)
    assert settings.watchlists[2].none == ("drill",)
    edited = WATCHLISTS.replace("camp OR", "camp OR OR").replace('tags = ["arab"]', "")
    (config / "watchlists.toml").write_text(edited)
    with pytest.raises(ConfigErrors) as caught:
        load_settings(config, {})
    [error] = caught.value.errors
    assert str(error) == (
        "watchlists.toml: watchlists[0].query: column 36: 'OR' must be followed by a term"
    )


# ---------------------------------------------------------------- poll, then backtest


def test_poll_alerts_through_queries_all_and_none(polled: Path, db_url: str) -> None:
    db = Database(db_url)
    try:
        with db.transaction() as session:
            rows = session.execute(
                text(
                    "SELECT m.watchlist, s.title FROM matches m JOIN stories s "
                    "ON s.id = m.story_id ORDER BY m.watchlist, s.title"
                )
            ).all()
    finally:
        db.dispose()
    assert [tuple(r) for r in rows] == [
        ("arabic", "مخيم ٱليرموك"),
        ("red", "Red Crescent convoy"),
        ("yarmouk", "Shelling hits Yarmouk camp"),
        ("yarmouk", "Yarmuk refugees return"),
    ]


def test_watchlists_test_by_name_counts_stories_feeds_and_shows_hits(
    polled: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _counts(db_url)
    code, out, _ = _run(capsys, "watchlists", "test", "yarmouk", "--config", str(polled))
    assert code == 0, out
    assert "watchlist 'yarmouk' over entries since" in out
    assert "2 stories would have alerted (nothing was sent)" in out
    assert "matching entries per feed:\n  wire  2" in out
    assert "Yarmuk refugees return" in out and "Shelling hits Yarmouk camp" in out
    assert "football" not in out
    assert "title, 'Yarmouk': Shelling hits [Yarmouk] camp" in out
    assert "summary, 'refugees': Hundreds of [refugees] went back to al-Yarmuk." in out
    assert "3 entries looked at, 2 matched" in out  # the index skipped the others
    assert _counts(db_url) == before  # nothing recorded, nothing queued


def test_watchlists_test_applies_tags_and_folds_arabic(
    polled: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(capsys, "watchlists", "test", "arabic", "--config", str(polled))
    assert code == 0
    assert "1 stories would have alerted" in out
    assert "arab  1" in out
    assert "[ٱليرموك]" in out


def test_watchlists_test_with_an_ad_hoc_query_and_since(
    polled: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["watchlists", "test", "--config", str(polled), "--query"]
    code, out, _ = _run(capsys, *argv, 'camp NEAR/3 "Red Crescent" OR title:drill')
    assert code == 0
    assert "2 stories would have alerted" in out
    assert "Red Crescent convoy" in out and "Red Crescent drill" in out
    code, out, _ = _run(capsys, *argv, "Yarmouk", "--since", "7d")  # stored as 2026-11-02
    assert "0 stories would have alerted" in out
    code, _, err = _run(capsys, *argv, "Yarmouk (camp")
    assert code == 2 and "column 9: unbalanced parenthesis" in err
    code, _, err = _run(capsys, "watchlists", "test", "nope", "--config", str(polled))
    assert code == 2 and "unknown watchlist: nope" in err
    code, _, err = _run(capsys, "watchlists", "test", "--config", str(polled))
    assert code == 2


def test_search_lists_newest_first_with_limit_and_since(
    polled: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    db = Database(db_url)
    try:  # give the entries distinct dates, so "newest first" means something
        with db.transaction() as session:
            order = [title for _, title, _ in WIRE + ARAB]
            for entry in session.exec(select(Entry)).all():
                entry.published = datetime(2026, 11, 1 + order.index(entry.title), tzinfo=UTC)
    finally:
        db.dispose()
    code, out, _ = _run(capsys, "search", "camp", "--config", str(polled))
    assert code == 0
    titles = [line.split("  ")[2] for line in out.splitlines() if line.startswith("2026-")]
    assert titles == ["Red Crescent convoy", "Yarmouk football final", "Shelling hits Yarmouk camp"]
    assert "3 entries (all stored entries, newest first)" in out
    code, out, _ = _run(capsys, "search", "camp", "--limit", "1", "--config", str(polled))
    assert "1 entries" in out and "Red Crescent convoy" in out and "Shelling" not in out
    code, out, _ = _run(
        capsys, "search", "Yarmouk -football", "--since", "22d", "--config", str(polled)
    )
    assert "0 entries (entries since" in out  # w1 is dated 2026-11-01
    code, out, _ = _run(capsys, "search", "feed:arab", "--config", str(polled))
    assert "2 entries" in out
    code, _, err = _run(capsys, "search", "titel:x", "--config", str(polled))
    assert code == 2 and "error: query: column 1: unknown field 'titel'" in err


def test_full_text_index_follows_updates_and_deletes(polled: Path, db_url: str) -> None:
    db = Database(db_url)
    now = datetime(2026, 11, 24, tzinfo=UTC)
    spec = WatchlistSpec("q", query="Markets OR Zarqa")
    try:
        assert [
            h.row.title for h in search(db, spec.query or "", since=None, now=now, limit=5)
        ] == ["Markets"]
        with db.transaction() as session:
            entry = session.exec(select(Entry).where(Entry.title == "Markets")).one()
            entry.title, entry.content = "Zarqa", "Zarqa camp"
        report = backtest(db, spec, since=None, now=now)
        assert (report.scanned, report.matched_entries) == (1, 1)
        assert report.sample[0].row.title == "Zarqa"
        assert search(db, "Markets", since=None, now=now, limit=5) == []
        with db.transaction() as session:
            session.delete(session.exec(select(Entry).where(Entry.title == "Zarqa")).one())
        assert backtest(db, spec, since=None, now=now).scanned == 0
    finally:
        db.dispose()


def test_candidates_come_from_the_index(polled: Path, db_url: str) -> None:
    """Indexable terms narrow the scan; terms the index cannot judge scan everything."""
    db = Database(db_url)
    now = datetime(2026, 11, 24, tzinfo=UTC)
    try:
        narrow = backtest(db, WatchlistSpec("q", ("Red Crescent",)), since=None, now=now)
        assert (narrow.scanned, narrow.matched_entries) == (2, 2)
        wide = backtest(db, WatchlistSpec("q", ("اليرموك",)), since=None, now=now)
        assert (wide.scanned, wide.matched_entries) == (8, 1)
        if not db.is_sqlite:
            with db.transaction() as session:
                session.execute(text("SET LOCAL enable_seqscan = off"))
                plan = session.execute(
                    text(
                        "EXPLAIN SELECT id FROM entries WHERE to_tsvector('simple', "
                        "entries.title || ' ' || entries.summary || ' ' || entries.content"
                        " || ' ' || entries.author || ' ' || (entries.categories::jsonb)::text)"
                        " @@ to_tsquery('simple', 'camp')"
                    )
                ).all()
            assert "ix_entries_fts" in " ".join(str(r[0]) for r in plan)
    finally:
        db.dispose()


def test_backtest_counts_a_syndicated_story_once(
    make_config: ConfigMaker, feed_server: FeedServer, capsys: pytest.CaptureFixture[str]
) -> None:
    items = [("s1", "Yarmouk camp shelled", "Shelling in the Yarmouk camp.")]
    wire = feed_server.set("/a.xml", rss2(items))  # the mirror links to the same story
    mirror = feed_server.set("/b.xml", rss2([("s1", "Yarmouk camp under fire", "Camp news.")]))
    other = feed_server.set(
        "/c.xml", rss2([("o1", "Yarmouk refugees", "x")], link_base="https://o/")
    )
    watchlists = WATCHLISTS.replace('tags = ["arab"]', "")
    config = make_config(
        [("wire", wire), ("mirror", mirror), ("other", other)],
        extra=CONSOLE,
        watchlists=watchlists,
    )
    assert main(["poll", "--config", str(config), "--deliver-timeout", "2"]) == 0
    capsys.readouterr()
    code, out, _ = _run(capsys, "watchlists", "test", "yarmouk", "--config", str(config))
    assert code == 0
    assert "3 entries looked at, 3 matched" in out
    assert "2 stories would have alerted" in out
    assert "newest 2 stories:" in out
    assert out.count("    https://news.example.org/s1") == 1
