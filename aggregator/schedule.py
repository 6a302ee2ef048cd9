"""When to poll a feed next: a pure function of the feed's situation, the policy and `now`.

The base interval is the feed's configured `interval` when it has one; otherwise it is
learned from how often the feed publishes (busy feeds more often, quiet ones less),
clamped to the policy's min and max. Server hints (RSS ttl, Cache-Control max-age,
Expires) can only push the next poll later; Retry-After on 429/503 is obeyed; errors
back off exponentially up to the max; jitter spreads feeds that share an interval.
No I/O, no database, no clock reads: callers pass `now`.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

JITTER_FRACTION = 0.1
MAX_JITTER = timedelta(minutes=15)
RATE_WINDOW = timedelta(days=7)
# Poll about twice per average gap between entries: most new entries are seen within half
# a gap, without polling a feed that publishes weekly every few minutes.
POLLS_PER_GAP = 2


@dataclass(frozen=True, slots=True)
class PollPolicy:
    default_interval: timedelta
    min_interval: timedelta
    max_interval: timedelta


@dataclass(frozen=True, slots=True)
class FeedSituation:
    configured_interval: timedelta | None = None
    learned_interval: timedelta | None = None
    consecutive_errors: int = 0
    retry_after: timedelta | None = None
    server_hint: timedelta | None = None


def learned_interval(published: Iterable[datetime | None], now: datetime) -> timedelta | None:
    """An interval from the entries' dates: the average gap over the last week, halved.

    None when the feed gives no dates (the default interval then applies); a feed with
    dates but nothing in the last week is quiet and gets the whole window.
    """
    dates = [d for d in published if d is not None]
    if not dates:
        return None
    recent = [d for d in dates if now - RATE_WINDOW <= d <= now + timedelta(hours=1)]
    if not recent:
        return RATE_WINDOW
    return RATE_WINDOW / (len(recent) * POLLS_PER_GAP)


def _clamp(value: timedelta, low: timedelta, high: timedelta) -> timedelta:
    return max(low, min(value, high))


def base_interval(situation: FeedSituation, policy: PollPolicy) -> timedelta:
    """The configured interval wins; else what was learned, within the policy's bounds."""
    if situation.configured_interval is not None:
        return situation.configured_interval
    learned = situation.learned_interval or policy.default_interval
    return _clamp(learned, policy.min_interval, policy.max_interval)


def _backoff(base: timedelta, errors: int, cap: timedelta) -> timedelta:
    if errors <= 0:
        return base
    grown: timedelta = base * (2 ** min(errors - 1, 20))
    return min(grown, max(cap, base))


def next_poll_delay(
    situation: FeedSituation, policy: PollPolicy, rng: random.Random | None = None
) -> timedelta:
    """How long to wait before the next poll, jitter included."""
    base = base_interval(situation, policy)
    delay = _backoff(base, situation.consecutive_errors, policy.max_interval)
    if situation.retry_after is not None:
        delay = max(delay, min(situation.retry_after, policy.max_interval))
    if situation.server_hint is not None:
        delay = max(delay, min(situation.server_hint, max(policy.max_interval, base)))
    jitter = min(delay * (rng or random).uniform(0, JITTER_FRACTION), MAX_JITTER)
    return delay + jitter


def next_poll_at(
    situation: FeedSituation, policy: PollPolicy, now: datetime, rng: random.Random | None = None
) -> datetime:
    return now + next_poll_delay(situation, policy, rng)
