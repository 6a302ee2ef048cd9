"""The one place that reads the wall clock, so pure code can take `now` as a value."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
