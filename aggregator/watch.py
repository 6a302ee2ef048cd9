"""Which watchlists fire for an entry, and through which channels: pure.

Compiles the configured watchlists (`any`, `all`, `none`, `query`) into one matcher once
per settings snapshot, then for each entry returns the matches whose tag filter admits
the entry's feed, paired with the watchlist's channels. No I/O, no storage.
"""

from __future__ import annotations

from collections.abc import Sequence

from aggregator.match import entry_fields
from aggregator.match.matcher import Matcher, WatchlistSpec
from aggregator.settings import WatchlistSettings
from aggregator.types import EntryData, Route


def watchlist_spec(watchlist: WatchlistSettings) -> WatchlistSpec:
    """The matching part of a configured watchlist."""
    return WatchlistSpec(
        watchlist.name,
        any=tuple(watchlist.any),
        all=tuple(watchlist.all),
        none=tuple(watchlist.none),
        query=watchlist.query,
    )


class WatchRules:
    """The compiled watchlists of one config snapshot."""

    def __init__(self, watchlists: Sequence[WatchlistSettings]) -> None:
        self._watchlists = {w.name: w for w in watchlists}
        self._matcher = Matcher.compile([watchlist_spec(w) for w in watchlists])

    def routes(self, entry: EntryData, feed_tags: Sequence[str], feed: str = "") -> list[Route]:
        """The matches for `entry`, from a feed with these tags; `feed` (its name) is what
        `feed:` terms look at."""
        if not self._watchlists:
            return []
        tags = set(feed_tags)
        fields = entry_fields(entry)
        if feed:
            fields["feed"] = feed
        found = []
        for match in self._matcher.match(fields):
            watchlist = self._watchlists[match.watchlist]
            if watchlist.tags and not tags.intersection(watchlist.tags):
                continue
            found.append(Route(match, tuple(watchlist.channels)))
        return found
