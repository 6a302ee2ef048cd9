"""How `aggregator watchlists test` and `aggregator search` print what they found.

Pure formatting of `aggregator.search` results: counts, a per-feed table, and hits with
their snippets, the matching terms marked [like this]. Must not query the database,
read the clock or match anything itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from aggregator.match.snippet import mark
from aggregator.search import BacktestReport, Hit

__all__ = ["backtest_text", "hits_text", "since_text"]

HIGHLIGHTS_SHOWN = 3


def since_text(since: timedelta | None, now: datetime) -> str:
    if since is None:
        return "all stored entries"
    return f"entries since {_when(now - since)}"


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%MZ")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _hit_lines(hit: Hit) -> list[str]:
    row = hit.row
    lines = [f"{_when(row.when)}  {row.feed}  {_one_line(row.title) or '(untitled)'}"]
    if row.link:
        lines.append(f"    {row.link}")
    for highlight in hit.match.highlights[:HIGHLIGHTS_SHOWN]:
        snippet = mark(_one_line(highlight.snippet), highlight.term)
        lines.append(f"    {highlight.field}, {highlight.term!r}: {snippet}")
    hidden = len(hit.match.highlights) - HIGHLIGHTS_SHOWN
    if hidden > 0:
        lines.append(f"    (and {hidden} more)")
    return lines


def hits_text(hits: Sequence[Hit]) -> str:
    """Hits newest first, each with its date, feed, title, link and marked snippets."""
    lines: list[str] = []
    for hit in hits:
        lines.extend(_hit_lines(hit))
    return "\n".join(lines)


def backtest_text(name: str, report: BacktestReport, scope: str) -> str:
    """The backtest summary: stories, per-feed counts and a sample of hits."""
    lines = [
        f"{name} over {scope}: {report.scanned} entries looked at, "
        f"{report.matched_entries} matched",
        f"{report.stories} stories would have alerted (nothing was sent)",
    ]
    if report.per_feed:
        lines.append("")
        lines.append("matching entries per feed:")
        width = max(len(feed) for feed in report.per_feed)
        for feed, count in sorted(report.per_feed.items(), key=lambda kv: (-kv[1], kv[0])):
            lines.append(f"  {feed.ljust(width)}  {count}")
    if report.sample:
        lines.append("")
        lines.append(f"newest {len(report.sample)} stories:")
        for hit in report.sample:
            lines.extend("  " + line for line in _hit_lines(hit))
    return "\n".join(lines)
