"""How `aggregator feeds` and `aggregator instances` describe things. Pure formatting.

A feed is "never" polled, "ok", in "error", "FAILING" (errors for longer than the
configured time), or "gone" (410); a feed whose config URL permanently redirected says
"moved" and where to. Must not query the database or read the clock itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from aggregator.storage.feeds import FeedRow
from aggregator.storage.instances import InstanceRow, is_alive


def feed_status(row: FeedRow, now: datetime, flag_failing_after: timedelta) -> str:
    if row.gone_at is not None:
        status = "gone 410"
    elif row.failing_since is not None and now - row.failing_since >= flag_failing_after:
        status = f"FAILING {row.last_status or ''}".rstrip()
    elif row.consecutive_errors:
        status = f"error {row.last_status or ''}".rstrip()
    elif row.last_status is None:
        status = "never"
    else:
        status = f"ok {row.last_status}"
    status += " moved" if row.moved_to else ""
    return status + (f" polling@{row.lease_owner}" if row.lease_owner else "")


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%SZ") if moment else "-"


def render_table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    )


def _note(row: FeedRow) -> str:
    if row.moved_to:
        moved = f"moved to {row.moved_to}"
        return f"{moved}; {row.last_error}" if row.last_error else moved
    return row.last_error or ""


def feeds_table(rows: Sequence[FeedRow], now: datetime, flag_failing_after: timedelta) -> str:
    header = ("NAME", "STATUS", "LAST FETCH", "NEXT POLL", "ENTRIES", "NOTE")
    body = [
        (
            r.name,
            feed_status(r, now, flag_failing_after),
            _when(r.last_fetched_at),
            "-" if r.gone_at else _when(r.next_poll_at),
            str(r.entries),
            _note(r)[:100],
        )
        for r in rows
    ]
    return render_table([header, *body])


def instances_table(rows: Sequence[InstanceRow], now: datetime, heartbeat: timedelta) -> str:
    header = ("INSTANCE", "STATE", "STARTED", "LAST HEARTBEAT", "FEEDS LEASED", "VERSION")
    body = [
        (
            r.id,
            "alive" if is_alive(r, now, heartbeat) else ("stopped" if r.stopped_at else "dead"),
            _when(r.started_at),
            _when(r.heartbeat_at),
            str(r.feeds_leased),
            r.version,
        )
        for r in rows
    ]
    return render_table([header, *body]) if body else "no instance has run on this database"
