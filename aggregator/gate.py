"""How much of a poll may happen at once: fetches in flight, per host and in all, and
fetched feeds waiting to be parsed and stored.

Responsible only for the limits. The fetch limits keep a poll polite (a thousand feeds
on one host are not fetched at once) and bounded (`[polling] concurrency`). The backlog
limit is backpressure: parsing and storing are slower than fetching on a first poll, so
without it every fetched body and every parsed result would pile up in memory before
the database thread got to it. A fetch keeps its slot until the backlog has room, so
fetching slows to the pace of storing instead of filling memory.

Must not: fetch, parse or store anything, or know about feeds beyond their URL.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit


class PollGate:
    """The limits of one poll: `total` and `per_host` fetches, `backlog` fetched feeds."""

    def __init__(self, total: int, per_host: int, backlog: int | None = None) -> None:
        self._total = asyncio.Semaphore(total)
        self._per_host = per_host
        self._hosts: dict[str, asyncio.Semaphore] = {}
        # Fetched, not yet stored: enough to keep the parsers and the writer busy.
        self.backlog = asyncio.Semaphore(backlog if backlog is not None else total)

    def fetching(self, url: str) -> _Both:
        """A slot to fetch `url`: one of its host's and one of the global ones."""
        host = (urlsplit(url).hostname or "").lower()
        semaphore = self._hosts.get(host)
        if semaphore is None:
            semaphore = self._hosts[host] = asyncio.Semaphore(self._per_host)
        return _Both(semaphore, self._total)


class _Both:
    """Holds the host's slot first, then a global one, so a crowded host can't hog both."""

    def __init__(self, host: asyncio.Semaphore, total: asyncio.Semaphore) -> None:
        self._host, self._total = host, total

    async def __aenter__(self) -> None:
        await self._host.acquire()
        try:
            await self._total.acquire()
        except BaseException:
            self._host.release()
            raise

    async def __aexit__(self, *exc: object) -> None:
        self._total.release()
        self._host.release()
