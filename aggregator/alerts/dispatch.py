"""The outbox dispatcher: claim due deliveries, send each through its channel, record outcomes.

Each step is its own short transaction and no transaction is open while a channel sends.
A crash between claim and outcome leaves a lease that expires, so the delivery is sent
again with the same id (at-least-once, never a second id). Deliveries go out oldest
first, and a channel that is down is retried as a whole, so its backlog still goes out
in order of creation when it is back (`run_once`; in one instance: another instance does
not see this one's holds, only their effect on `next_attempt_at`). A channel that raises
something other than DeliveryError (a bug) is retried like a failure, so one bad alert
never blocks the ones behind it. This module decides nothing about content: channels
render, retry.py decides when.
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
from aggregator.types import Alert

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

    def __post_init__(self) -> None:
        self._held: dict[str, datetime] = {}  # channel -> when it is tried again

    async def run_once(self, stop: asyncio.Event | None = None) -> DispatchReport:
        """Send what is due now; returns what happened. Stops early when `stop` is set.

        Deliveries go out oldest first. A channel whose send fails is retried as a whole:
        the next delivery of that channel is still tried (one bad alert must not hold the
        others back), but a second failure in a row, or a failure with nothing after it,
        holds every pending delivery of the channel until the failed one's retry time, so
        that they all go out together, in order of creation, when the channel is back.
        """
        report = DispatchReport()
        ids = await self._db(
            outbox.claim_due, now=self.clock(), owner=self.owner, lease=self.lease, limit=self.batch
        )
        failing: dict[str, datetime] = {}  # channel -> retry time of its last send, a failure
        skipped: list[str] = []
        for index, delivery_id in enumerate(ids):
            if stop is not None and stop.is_set():
                await self._db(outbox.release, ids[index:])
                break
            alert = await self._db(outbox.load_alert, delivery_id)
            name = alert.channel
            held = self._held.get(name)
            if held is not None and held > self.clock():
                skipped.append(delivery_id)
                continue
            retry_at = await self._deliver(alert, report)
            if retry_at is None:
                failing.pop(name, None)
            elif name in failing:
                self._held[name] = max(failing.pop(name), retry_at)
            else:
                failing[name] = retry_at
        for name, retry_at in failing.items():
            self._held[name] = max(self._held.get(name, retry_at), retry_at)
        await self._apply_holds(skipped)
        return report

    async def _apply_holds(self, skipped: list[str]) -> None:
        if skipped:
            await self._db(outbox.release, skipped)
        now = self.clock()
        for name, until in list(self._held.items()):
            if until <= now:
                del self._held[name]
            else:
                await self._db(outbox.hold_channel, name, until)

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

    async def _deliver(self, alert: Alert, report: DispatchReport) -> datetime | None:
        """Send one alert and record the outcome; when it is to be retried, the time."""
        delivery_id = alert.delivery_id
        channel = self.channels.get(alert.channel)
        if channel is None:
            error = f"channel {alert.channel!r} is not configured"
            return await self._retry(delivery_id, error, MISSING_CHANNEL_DELAY, report)
        try:
            await channel.send(alert)
        except DeliveryError as exc:
            return await self._on_error(delivery_id, exc, report)
        except Exception as exc:  # a channel bug: retried like any failure, never blocking
            log.exception("delivery %s: channel %s failed unexpectedly", delivery_id, alert.channel)
            bug = DeliveryError(f"channel error: {exc.__class__.__name__}: {str(exc)[:200]}")
            return await self._on_error(delivery_id, bug, report)
        await self._db(outbox.mark_delivered, delivery_id, self.clock())
        log.info("delivery %s: delivered to %s (%s)", delivery_id, alert.channel, alert.watchlist)
        report.delivered += 1
        return None

    async def _on_error(
        self, delivery_id: str, exc: DeliveryError, report: DispatchReport
    ) -> datetime | None:
        state = await self._db(outbox.delivery_state, delivery_id)
        now = self.clock()
        if exc.permanent or expired(state.created_at, now, self.max_age):
            why = "permanent error" if exc.permanent else f"older than {self.max_age}"
            await self._db(outbox.mark_failed, delivery_id, error=str(exc), now=now)
            log.error(
                "delivery %s to %s FAILED (%s), giving up: %s", delivery_id, state.channel, why, exc
            )
            report.failed += 1
            return None
        delay = retry_delay(state.attempts + 1, exc.retry_after)
        return await self._retry(delivery_id, str(exc), delay, report)

    async def _retry(
        self, delivery_id: str, error: str, delay: timedelta, report: DispatchReport
    ) -> datetime:
        now = self.clock()
        await self._db(
            partial(outbox.mark_retry, error=error, next_attempt_at=now + delay, now=now),
            delivery_id,
        )
        log.warning("delivery %s: %s; retrying in %.0fs", delivery_id, error, delay.total_seconds())
        report.retried += 1
        return now + delay
