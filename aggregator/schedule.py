"""When to poll a feed next: a pure function of the feed's situation and `now`.

No I/O, no database, no clock reads: callers pass `now`. Errors back off exponentially
(capped) so a broken feed is not hammered; jitter spreads feeds that share an interval.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

MAX_BACKOFF = timedelta(hours=24)
JITTER_FRACTION = 0.1


@dataclass(frozen=True, slots=True)
class ScheduleInput:
    interval: timedelta
    consecutive_errors: int = 0


def next_poll_at(
    situation: ScheduleInput, now: datetime, rng: random.Random | None = None
) -> datetime:
    """The next poll time: the interval, doubled per consecutive error up to a cap, plus jitter."""
    delay = situation.interval
    if situation.consecutive_errors > 0:
        factor = 2 ** min(situation.consecutive_errors - 1, 16)
        delay = min(situation.interval * factor, max(MAX_BACKOFF, situation.interval))
    jitter = (rng or random).uniform(0, JITTER_FRACTION) * delay.total_seconds()
    return now + delay + timedelta(seconds=jitter)
