"""How `aggregator stories show` and `aggregator db prune` print. Pure formatting.

A story: its title, link, founding feed and dates, the stories merged into it, a table
of its sources (feed, first seen, link) and one of the alerts it caused (watchlist,
channel, status, when, delivery id). Must not query the database or read the clock.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from aggregator.feedview import render_table
from aggregator.storage.retention import PruneReport
from aggregator.storage.storyinfo import StoryDetail


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%SZ") if moment else "-"


def story_text(story: StoryDetail) -> str:
    lines = []
    if story.asked != story.id:
        lines.append(f"story {story.asked} was merged into story {story.id}")
    lines += [
        f"story {story.id}: {story.title or '(untitled)'}",
        f"  url:       {story.url or '-'}",
        f"  first in:  {story.feed}, {_when(story.created_at)}",
        f"  published: {_when(story.published)}",
    ]
    if story.merged:
        lines.append(f"  merged:    {', '.join(str(i) for i in story.merged)}")
    lines += ["", f"sources ({len(story.sources)}):"]
    if story.sources:
        rows = [(s.feed, _when(s.first_seen), s.url or "-") for s in story.sources]
        lines.append(_indent(render_table([("FEED", "FIRST SEEN", "LINK"), *rows])))
    lines += ["", f"alerts ({len(story.alerts)}):"]
    if story.alerts:
        header = ("WATCHLIST", "CHANNEL", "STATUS", "QUEUED", "DELIVERED", "DELIVERY ID")
        alert_rows = [
            (
                a.watchlist + ("" if a.story_id == story.id else f" (on story {a.story_id})"),
                a.channel,
                a.status if a.status != "pending" else f"pending ({a.attempts} attempts)",
                _when(a.created_at),
                _when(a.delivered_at),
                a.delivery_id,
            )
            for a in story.alerts
        ]
        lines.append(_indent(render_table([header, *alert_rows])))
    return "\n".join(lines)


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


def duration_text(duration: timedelta) -> str:
    """90d, 36h, 15m or 90s: the largest unit that writes it whole."""
    seconds = int(duration.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def prune_text(report: PruneReport, older_than: timedelta) -> str:
    return (
        f"pruned entries and stories older than {duration_text(older_than)}: "
        f"{report.entries} entries "
        f"(their keys kept as tombstones), {report.stories} stories, "
        f"{report.bands} dedup index rows"
    )
