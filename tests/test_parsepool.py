"""The parse deadline: a stuck parser becomes a recorded error and its worker is replaced."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from concurrent.futures import Executor
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aggregator import parsepool
from aggregator.errors import ParseError
from aggregator.parsepool import ParsePool
from aggregator.process import BodyTask, Processed
from tests.conftest import ConfigMaker
from tests.helpers.daemon import wait_until
from tests.helpers.feeds import rss2
from tests.helpers.feedserver import FeedServer
from tests.helpers.hostile import many_entries
from tests.helpers.slowparse import sleepy

NOW = datetime(2026, 11, 2, tzinfo=UTC)


def task(body: bytes | str) -> BodyTask:
    data = body.encode() if isinstance(body, str) else body
    return BodyTask(data, "http://feed.example/", None, (), NOW)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"


@pytest.fixture
def killed(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The pids of the worker processes ParsePool kills."""
    pids: list[int] = []
    real = parsepool._kill

    def spy(pool: Executor) -> None:
        pids.extend(getattr(pool, "_processes", {}) or {})
        real(pool)

    monkeypatch.setattr(parsepool, "_kill", spy)
    return pids


async def outcome(pool: ParsePool, body: str, delay: float = 0.0) -> Processed | ParseError:
    await asyncio.sleep(delay)
    try:
        return await pool.run(task(body))
    except ParseError as exc:
        return exc


def test_overrun_is_a_parse_error_and_the_stuck_worker_is_killed(killed: list[int]) -> None:
    pool = ParsePool((), workers=1, deadline=1.0, function=sleepy)

    async def go() -> tuple[Processed | ParseError, Processed | ParseError, float]:
        await outcome(pool, "0")  # start the workers: start-up is not parse time
        started = time.monotonic()
        stuck = await outcome(pool, "60")
        elapsed = time.monotonic() - started
        after = await outcome(pool, "0")
        return stuck, after, elapsed

    try:
        stuck, after, elapsed = asyncio.run(go())
    finally:
        pool.shutdown()
    assert isinstance(stuck, ParseError) and str(stuck) == "parse timed out after 1s"
    assert elapsed < 3
    assert isinstance(after, Processed), "the next task runs on a fresh pool"
    assert pool.recycled == 1 and killed
    wait_until(lambda: not any(alive(pid) for pid in killed), timeout=5)


def test_tasks_running_beside_the_stuck_one_finish_before_its_pool_is_killed(
    killed: list[int],
) -> None:
    pool = ParsePool((), workers=2, deadline=2.5, function=sleepy)

    async def go() -> list[Processed | ParseError]:
        await asyncio.gather(outcome(pool, "0.3"), outcome(pool, "0.3"))  # both workers up
        return list(
            await asyncio.gather(
                outcome(pool, "60"),  # times out at 2.5 s, retiring the pool
                outcome(pool, "2.0", delay=1.0),  # runs on that pool until 3.0 s
                outcome(pool, "0.1", delay=1.5),  # waits for a slot: the fresh pool
            )
        )

    try:
        stuck, innocent, later = asyncio.run(go())
    finally:
        pool.shutdown()
    assert isinstance(stuck, ParseError)
    assert isinstance(innocent, Processed), f"an innocent task was lost: {innocent}"
    assert isinstance(later, Processed)
    assert innocent.warning != later.warning, "the later task ran on a new worker"
    assert int(innocent.warning or 0) in killed, "the retired pool was killed once idle"
    assert pool.recycled == 1


def test_a_dying_worker_fails_its_task_and_the_pool_is_replaced() -> None:
    pool = ParsePool((), workers=1, deadline=10, function=sleepy)

    async def go() -> tuple[Processed | ParseError, Processed | ParseError]:
        return await outcome(pool, "die"), await outcome(pool, "0")

    try:
        died, after = asyncio.run(go())
    finally:
        pool.shutdown()
    assert isinstance(died, ParseError) and "died" in str(died)
    assert isinstance(after, Processed)


def test_inline_parsing_also_has_a_deadline() -> None:
    pool = ParsePool((), workers=0, deadline=0.5, function=sleepy)

    async def go() -> tuple[Processed | ParseError, Processed | ParseError]:
        return await outcome(pool, "3"), await outcome(pool, "0")

    try:
        stuck, after = asyncio.run(go())
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    assert isinstance(stuck, ParseError) and "timed out" in str(stuck)
    assert isinstance(after, Processed), "a fresh thread takes the next task"


def test_daemon_stop_kills_a_stuck_worker(killed: list[int]) -> None:
    pool = ParsePool((), workers=1, deadline=60, function=sleepy)

    async def go() -> None:
        await outcome(pool, "0")
        running = asyncio.ensure_future(outcome(pool, "60"))
        await asyncio.sleep(0.3)
        pool.shutdown(wait=False, cancel_futures=True)
        running.cancel()

    started = time.monotonic()
    asyncio.run(go())
    assert time.monotonic() - started < 5
    assert killed
    wait_until(lambda: not any(alive(pid) for pid in killed), timeout=5)


@pytest.mark.slow
def test_poll_records_a_parse_timeout_and_stores_the_other_feeds(
    feed_server: FeedServer, make_config: ConfigMaker, tmp_path: Path
) -> None:
    from aggregator.cli import main

    huge = feed_server.set("/huge.xml", many_entries(100_000))  # ~10 MB, seconds to parse
    good = [
        (f"good{i}", feed_server.set(f"/g{i}.xml", rss2([(f"g{i}", "t", "b")]))) for i in range(3)
    ]
    config = make_config(
        [("huge", huge), *good],
        extra='max_body = "30MiB"\n[polling]\nparse_timeout = "1s"\n',
    )
    started = time.monotonic()
    assert main(["poll", "--config", str(config), "--deliver-timeout", "0"]) == 0
    assert time.monotonic() - started < 15
    with sqlite3.connect(tmp_path / "data" / "aggregator.db") as conn:
        rows = dict(conn.execute("SELECT name, last_error FROM feeds").fetchall())
        stored = conn.execute("SELECT count(*) FROM entries").fetchone()[0]
    assert rows == {"huge": "parse timed out after 1s", "good0": None, "good1": None, "good2": None}
    assert stored == 3
