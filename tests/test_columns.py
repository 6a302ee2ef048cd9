"""UTCDateTime's one-step SQLite binding stores exactly what SQLAlchemy's DATETIME would:
rows written before and after it compare and sort together."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import DateTime
from sqlalchemy.dialects import sqlite

from aggregator.storage.columns import UTCDateTime

DIALECT = sqlite.dialect()  # type: ignore[no-untyped-call]
COLUMN = UTCDateTime()
OURS = COLUMN.bind_processor(DIALECT)
THEIRS = DateTime(timezone=True).dialect_impl(DIALECT).bind_processor(DIALECT)

zones = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
moments = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(9998, 1, 1), timezones=zones
)


@given(moments)
def test_stored_text_is_sqlalchemys(moment: datetime) -> None:
    assert OURS is not None and THEIRS is not None
    assert OURS(moment) == THEIRS(COLUMN.process_bind_param(moment, DIALECT))


def test_none_and_naive_values() -> None:
    assert OURS is not None
    assert OURS(None) is None
    assert OURS(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02 03:04:05.000000"
    with pytest.raises(ValueError):
        OURS(datetime(2026, 1, 2))
