"""The scheduling rules, as table tests of the pure functions."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from aggregator.hints import cache_lifetime, parse_retry_after, server_hint, ttl_seconds
from aggregator.schedule import (
    FeedSituation,
    PollPolicy,
    base_interval,
    learned_interval,
    next_poll_delay,
)

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
POLICY = PollPolicy(timedelta(minutes=15), timedelta(minutes=5), timedelta(hours=24))
M, H = timedelta(minutes=1), timedelta(hours=1)


class NoJitter(random.Random):
    def uniform(self, a: float, b: float) -> float:
        return 0.0


@pytest.mark.parametrize(
    ("situation", "expected"),
    [
        (FeedSituation(), 15 * M),  # nothing known: the default
        (FeedSituation(configured_interval=10 * M), 10 * M),
        (FeedSituation(configured_interval=2 * M, learned_interval=H), 2 * M),  # config wins
        (FeedSituation(learned_interval=H), H),
        (FeedSituation(learned_interval=M), 5 * M),  # busy feed: clamped to min
        (FeedSituation(learned_interval=timedelta(days=7)), 24 * H),  # quiet: clamped to max
        (FeedSituation(consecutive_errors=1), 15 * M),
        (FeedSituation(consecutive_errors=2), 30 * M),
        (FeedSituation(consecutive_errors=4), 120 * M),
        (FeedSituation(consecutive_errors=30), 24 * H),  # backoff capped
        (FeedSituation(retry_after=2 * H), 2 * H),  # Retry-After obeyed
        (FeedSituation(retry_after=M), 15 * M),  # ... but never sooner than planned
        (FeedSituation(retry_after=timedelta(days=30)), 24 * H),  # ... within the max
        (FeedSituation(server_hint=H), H),  # hints push later
        (FeedSituation(server_hint=M), 15 * M),  # ... never sooner
        (FeedSituation(configured_interval=10 * M, server_hint=30 * M), 30 * M),
        (FeedSituation(server_hint=timedelta(days=9)), 24 * H),
    ],
)
def test_next_poll_delay(situation: FeedSituation, expected: timedelta) -> None:
    assert next_poll_delay(situation, POLICY, NoJitter()) == expected


def test_jitter_is_bounded_and_spreads_feeds() -> None:
    rng = random.Random(1)
    delays = {next_poll_delay(FeedSituation(), POLICY, rng) for _ in range(50)}
    assert len(delays) > 40
    assert all(15 * M <= d <= 15 * M * 1.1 for d in delays)


@pytest.mark.parametrize(
    ("ages_hours", "expected"),
    [
        ([], None),  # no dates: default applies
        ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14], timedelta(days=7) / 28),
        ([24 * 8, 24 * 9], timedelta(days=7)),  # nothing this week: quiet
        ([1], timedelta(days=7) / 2),
    ],
)
def test_learned_interval_from_publishing_rate(
    ages_hours: list[int], expected: timedelta | None
) -> None:
    dates = [NOW - timedelta(hours=h) for h in ages_hours]
    assert learned_interval(dates, NOW) == expected


def test_busier_feeds_poll_more_often() -> None:
    busy = learned_interval([NOW - timedelta(hours=h) for h in range(0, 168, 2)], NOW)
    quiet = learned_interval([NOW - timedelta(days=d) for d in (1, 4)], NOW)
    assert busy is not None and quiet is not None
    assert base_interval(FeedSituation(learned_interval=busy), POLICY) < base_interval(
        FeedSituation(learned_interval=quiet), POLICY
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        ("Fri, 20 Nov 2026 12:10:00 GMT", 600.0),
        ("Fri, 20 Nov 2026 11:00:00 GMT", 0.0),
        ("later", None),
        (None, None),
    ],
)
def test_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, NOW) == expected


@pytest.mark.parametrize(
    ("cache_control", "expires", "ttl", "expected"),
    [
        ("public, max-age=3600", None, None, 3600.0),
        ("s-maxage=10, max-age=600", None, None, 600.0),
        ("no-cache, max-age=600", None, None, None),
        (None, "Fri, 20 Nov 2026 14:00:00 GMT", None, 7200.0),
        (None, "garbage", None, None),
        (None, None, "60", 3600.0),
        ("max-age=60", None, "30", 1800.0),  # the longest hint wins
        (None, None, "soon", None),
    ],
)
def test_server_hints(
    cache_control: str | None, expires: str | None, ttl: str | None, expected: float | None
) -> None:
    assert server_hint(cache_control, expires, ttl, NOW) == expected


def test_hint_parts() -> None:
    assert cache_lifetime("max-age=5", "Fri, 20 Nov 2026 14:00:00 GMT", NOW) == 5.0
    assert ttl_seconds(" 15 ") == 900.0
