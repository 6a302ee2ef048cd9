"""Hostile servers over loopback: each ends as a recorded error or a safely stored feed.

Every case (tests/helpers/hostile.py) is polled beside two good feeds through the real
`aggregator poll` path; the poll must finish within its deadlines, store the good feeds,
record the expected outcome for the hostile one, read no local file and fetch no
external entity. A last test polls every case at once in a subprocess and bounds its
time and memory.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aggregator.cli import main
from tests.conftest import ConfigMaker
from tests.helpers.feeds import atom, rss2
from tests.helpers.feedserver import FeedServer
from tests.helpers.hostile import (
    CASES,
    FETCH_TIMEOUT,
    GOOD_ITEMS,
    Case,
    config_extra,
    plant_markers,
)
from tests.helpers.procmem import TreePeak

pytestmark = pytest.mark.slow

GOOD = ("good-rss", "good-atom")


def _good_feeds(server: FeedServer) -> list[tuple[str, str]]:
    return [
        ("good-rss", server.set("/good.xml", rss2(GOOD_ITEMS))),
        (
            "good-atom",
            server.set("/good-atom.xml", atom(GOOD_ITEMS), content_type="application/atom+xml"),
        ),
    ]


def feed_rows(db: Path) -> dict[str, tuple[str | None, int, int]]:
    """name -> (last_error, consecutive_errors, entries)."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT f.name, f.last_error, f.consecutive_errors,"
            " (SELECT count(*) FROM entries e WHERE e.feed_id = f.id) FROM feeds f"
        ).fetchall()
    return {name: (error, errors, entries) for name, error, errors, entries in rows}


def database_bytes(data_dir: Path) -> bytes:
    """Every byte of the SQLite database, its WAL and shared memory included."""
    return b"".join(p.read_bytes() for p in sorted(data_dir.glob("aggregator.db*")))


def check_outcome(case: Case, row: tuple[str | None, int, int]) -> None:
    error, errors, entries = row
    if case.error is None:
        assert error is None, f"{case.name}: expected stored, got error {error!r}"
        assert entries >= case.min_entries, f"{case.name}: {entries} entries stored"
    else:
        assert error is not None and errors == 1, f"{case.name}: no error recorded"
        assert re.search(case.error, error), f"{case.name}: recorded {error!r}"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_feed_beside_good_ones(
    case: Case,
    feed_server: FeedServer,
    make_config: ConfigMaker,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = case.install(feed_server, plant_markers(tmp_path / "local"))
    feeds = [*_good_feeds(feed_server), ("hostile", url)]
    config = make_config(feeds, timeout=f"{FETCH_TIMEOUT:g}s", extra=config_extra())
    started = time.monotonic()
    code = main(["poll", "--config", str(config), "--deliver-timeout", "0"])
    elapsed = time.monotonic() - started
    out = capsys.readouterr().out
    assert code == 0, out
    assert elapsed < FETCH_TIMEOUT + 12, f"{case.name}: the poll took {elapsed:.1f}s"
    rows = feed_rows(tmp_path / "data" / "aggregator.db")
    for name in GOOD:
        assert rows[name] == (None, 0, len(GOOD_ITEMS)), f"{name} beside {case.name}: {rows}"
    check_outcome(case, rows["hostile"])
    stored = database_bytes(tmp_path / "data")
    for text in case.forbidden:
        assert text.encode() not in stored, f"{case.name}: {text[:40]!r} reached the database"
    assert feed_server.requests_for("/leak") == [], "an external entity or DTD was fetched"


def test_every_hostile_case_in_one_poll_subprocess(
    feed_server: FeedServer, make_config: ConfigMaker, tmp_path: Path
) -> None:
    markers = plant_markers(tmp_path / "local")
    feeds = [*_good_feeds(feed_server)]
    feeds += [(case.name, case.install(feed_server, markers)) for case in CASES]
    config = make_config(feeds, timeout=f"{FETCH_TIMEOUT:g}s", extra=config_extra())
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "aggregator", "poll", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    memory = TreePeak(proc.pid)
    out, _ = proc.communicate(timeout=120)
    memory.stop()
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, out
    assert elapsed < FETCH_TIMEOUT + 25, f"the poll took {elapsed:.1f}s"
    failing = sum(1 for case in CASES if case.error is not None)
    assert f"{len(CASES) + 2} feeds: {len(CASES) + 2 - failing} fetched" in out, out
    rows = feed_rows(tmp_path / "data" / "aggregator.db")
    for case in CASES:
        check_outcome(case, rows[case.name])
    for name in GOOD:
        assert rows[name] == (None, 0, len(GOOD_ITEMS))
    print(
        f"all hostile cases: {elapsed:.1f}s, peak RSS {memory.root_mb:.0f} MB (poll),"
        f" {memory.others_mb:.0f} MB (largest worker)"
    )
    assert memory.largest_mb < 600, f"a process of the poll peaked at {memory.largest_mb:.0f} MB"
