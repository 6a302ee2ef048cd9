"""What servers say about when to come back: Retry-After, Cache-Control, Expires, RSS ttl.

Pure parsing of header and feed values into seconds, given `now`. Used by the feed
scheduler and the webhook channel. Must not decide a schedule itself (schedule.py does)
and must not do I/O.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

_MAX_AGE = re.compile(r"(?:^|,)\s*(?:s-)?max-age\s*=\s*\"?(\d{1,10})", re.IGNORECASE)
_NO_CACHE = re.compile(r"(?:^|,)\s*(?:no-cache|no-store)\b", re.IGNORECASE)


def _http_date(value: str) -> datetime | None:
    try:
        when = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date), or None."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    when = _http_date(value)
    return None if when is None else max(0.0, (when - now).total_seconds())


def cache_lifetime(cache_control: str | None, expires: str | None, now: datetime) -> float | None:
    """How long the server says the response stays fresh, in seconds, or None."""
    if cache_control:
        if _NO_CACHE.search(cache_control):
            return None
        found = _MAX_AGE.search(cache_control)
        if found:
            return float(found.group(1))
    if expires:
        when = _http_date(expires)
        if when is not None:
            return max(0.0, (when - now).total_seconds())
    return None


def ttl_seconds(ttl: str | None) -> float | None:
    """RSS <ttl> is in minutes; garbage is ignored."""
    if ttl is None or not ttl.strip().isdigit():
        return None
    return float(int(ttl.strip()) * 60)


def server_hint(
    cache_control: str | None, expires: str | None, ttl: str | None, now: datetime
) -> float | None:
    """The longest of the server's freshness hints: each only ever asks us to wait longer."""
    hints = [h for h in (cache_lifetime(cache_control, expires, now), ttl_seconds(ttl)) if h]
    return max(hints) if hints else None
