"""The outbox dispatcher: claim due deliveries, send each through its channel, record outcomes.

Each step is its own short transaction and no transaction is open while a channel sends.
A crash between claim and outcome leaves a lease that expires, so the delivery is sent
again with the same id (at-least-once, never a second id). Deliveries go out oldest
first. This module decides nothing about content: channels render, retry.py decides when.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import TypeVar

from aggregator.alerts.channels import Channel
from aggregator.alerts.retry import expired, retry_delay
from aggregator.clock import utcnow
from aggregator.errors import DeliveryError
from aggregator.storage import outbox
from aggregator.storage.db import Database

log = logging.getLogger(__name__)
T = TypeVar("T")
LEASE = timedelta(minutes=5)
MISSING_CHANNEL_DELAY = timedelta(minutes=5)


@dataclass
class DispatchReport:
    delivered: int = 0
    retried: int = 0
    failed: int = 0


@dataclass
class Dispatcher:
    db: Database
    channels: Mapping[str, Channel]
    max_age: timedelta
    owner: str
    clock: Callable[[], datetime] = utcnow
    batch: int = 50
    lease: timedelta = LEASE

    async def _db(self, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
        def work() -> T:
            with self.db.transaction() as session:
                return fn(session, *args, **kwargs)

        return await asyncio.to_thread(work)

    async def run_once(self, stop: asyncio.Event | None = None) -> DispatchReport:
        """Send what is due now; returns what happened. Stops early when `stop` is set."""
        report = DispatchReport()
        ids = await self._db(
            outbox.claim_due, now=self.clock(), owner=self.owner, lease=self.lease, limit=self.batch
        )
        for index, delivery_id in enumerate(ids):
            if stop is not None and stop.is_set():
                await self._db(outbox.release, ids[index:])
                break
            await self._deliver(delivery_id, report)
        return report

    async def drain(self, deadline: float) -> DispatchReport:
        """Keep dispatching until nothing is due or `deadline` (loop time) passes."""
        total = DispatchReport()
        loop = asyncio.get_running_loop()
        while loop.time() < deadline:
            report = await self.run_once()
            total.delivered += report.delivered
            total.retried += report.retried
            total.failed += report.failed
            pending_at = await self._db(outbox.next_pending_at)
            if pending_at is None:
                break
            wait = (pending_at - self.clock()).total_seconds()
            if loop.time() + max(wait, 0) >= deadline:
                break
            await asyncio.sleep(min(max(wait, 0.05), 1.0))
        return total

    async def _deliver(self, delivery_id: str, report: DispatchReport) -> None:
        alert = await self._db(outbox.load_alert, delivery_id)
        channel = self.channels.get(alert.channel)
        if channel is None:
            error = f"channel {alert.channel!r} is not configured"
            await self._retry(delivery_id, error, MISSING_CHANNEL_DELAY, report)
            return
        try:
            await channel.send(alert)
        except DeliveryError as exc:
            await self._on_error(delivery_id, exc, report)
            return
        await self._db(outbox.mark_delivered, delivery_id, self.clock())
        log.info("delivery %s: delivered to %s (%s)", delivery_id, alert.channel, alert.watchlist)
        report.delivered += 1

    async def _on_error(self, delivery_id: str, exc: DeliveryError, report: DispatchReport) -> None:
        state = await self._db(outbox.delivery_state, delivery_id)
        now = self.clock()
        if exc.permanent or expired(state.created_at, now, self.max_age):
            why = "permanent error" if exc.permanent else f"older than {self.max_age}"
            await self._db(outbox.mark_failed, delivery_id, error=str(exc), now=now)
            log.error(
                "delivery %s to %s FAILED (%s), giving up: %s", delivery_id, state.channel, why, exc
            )
            report.failed += 1
            return
        delay = retry_delay(state.attempts + 1, exc.retry_after)
        await self._retry(delivery_id, str(exc), delay, report)

    async def _retry(
        self, delivery_id: str, error: str, delay: timedelta, report: DispatchReport
    ) -> None:
        now = self.clock()
        await self._db(
            partial(outbox.mark_retry, error=error, next_attempt_at=now + delay, now=now),
            delivery_id,
        )
        log.warning("delivery %s: %s; retrying in %.0fs", delivery_id, error, delay.total_seconds())
        report.retried += 1
