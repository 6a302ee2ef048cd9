"""When to try a failed delivery again, and when to give up: pure functions of values.

No I/O and no clock reads. Backoff is exponential with jitter so a receiver coming back
is not hit by every queued alert at once; a server's Retry-After wins when it asks for
more patience than the backoff would give.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

BASE_DELAY = timedelta(seconds=15)
MAX_DELAY = timedelta(hours=1)
MAX_RETRY_AFTER = timedelta(hours=6)
JITTER = 0.2


def retry_delay(
    attempts: int, retry_after: float | None = None, rng: random.Random | None = None
) -> timedelta:
    """Delay before attempt number `attempts + 1`, given `attempts` failures so far."""
    exponent = min(max(attempts - 1, 0), 20)
    delay: timedelta = min(BASE_DELAY * (2**exponent), MAX_DELAY)
    delay *= 1 + (rng or random).uniform(-JITTER, JITTER)
    if retry_after is not None and retry_after > 0:
        delay = max(delay, min(timedelta(seconds=retry_after), MAX_RETRY_AFTER))
    return delay


def expired(created_at: datetime, now: datetime, max_age: timedelta) -> bool:
    """A delivery older than `max_age` is given up on (and stays visible as failed)."""
    return now - created_at >= max_age
