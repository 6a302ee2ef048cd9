"""The long-running service: scheduled jobs, config reload, signals, graceful stop.

APScheduler 3.x runs three fixed jobs on the asyncio loop: poll the feeds that are due,
deliver pending alerts, and look for config edits. It never stores one job per feed:
`next_poll_at` in the database says which feeds are due. A bad config edit keeps the
previous config running. This module wires parts together; it makes no decisions about
content, schedules or retries itself.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from aggregator import __version__
from aggregator.alerts.channels import Channel, build_channels
from aggregator.alerts.dispatch import Dispatcher
from aggregator.clock import utcnow
from aggregator.errors import AggregatorError, ConfigErrors
from aggregator.pipeline import Poller
from aggregator.settings import Settings, load_settings
from aggregator.storage import feeds as feed_store
from aggregator.storage import instances, outbox, retention
from aggregator.storage.db import Database
from aggregator.storage.engine import is_sqlite
from aggregator.storage.instances import SqliteLock

log = logging.getLogger(__name__)
CONFIG_FILES = ("aggregator.toml", "feeds.toml", "watchlists.toml")
POLL_CHECK_SECONDS = 2.0
RELOAD_CHECK_SECONDS = 2.0
STOP_GRACE_SECONDS = 7.0
HEARTBEAT = timedelta(seconds=10)
PRUNE_EVERY = timedelta(days=1)
PRUNE_FIRST_AFTER = timedelta(minutes=5)


def default_instance_id() -> str:
    """$AGGREGATOR_INSTANCE_ID, else hostname:pid."""
    return os.environ.get("AGGREGATOR_INSTANCE_ID") or f"{socket.gethostname()}:{os.getpid()}"


def sd_notify(message: str) -> None:
    """Tell systemd (Type=notify) about our state; a no-op outside systemd."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):
        address = "\0" + address[1:]
    with suppress(OSError), socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.sendto(message.encode(), address)


def config_stamp(config_dir: Path) -> tuple[float, ...]:
    stamps = []
    for name in CONFIG_FILES:
        try:
            stamps.append((config_dir / name).stat().st_mtime_ns)
        except OSError:
            stamps.append(-1)
    return tuple(stamps)


class Daemon:
    def __init__(self, settings: Settings, instance_id: str | None = None) -> None:
        self.settings = settings
        self.instance_id = instance_id or default_instance_id()
        self.db = Database(settings.storage.url)
        self.stop_event = asyncio.Event()
        self._stamp = config_stamp(settings.config_dir)
        self._tasks: set[asyncio.Task[object]] = set()
        self._poll_lock = asyncio.Lock()
        self._polling: Poller | None = None  # the poller of the poll in progress
        self._apply(settings)

    def _apply(self, settings: Settings) -> None:
        self.settings = settings
        self.poller = Poller(settings, self.db)
        self.channels: dict[str, Channel] = build_channels(
            settings.channels, settings.http.allow_private_networks
        )
        self.dispatcher = Dispatcher(
            self.db,
            self.channels,
            settings.alerts.max_age,
            self.instance_id,
            lease=settings.polling.lease,
        )
        self.poller.reconcile()

    async def _tracked(self, job: Callable[[], Awaitable[None]]) -> None:
        if self.stop_event.is_set():
            return
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await job()
        except AggregatorError as exc:
            log.error("%s", exc)
        finally:
            self._tasks.discard(task)

    async def poll_due(self) -> None:
        """Claim and poll due feeds; one poll at a time (start-up and the job may overlap)."""
        if self._poll_lock.locked():
            return
        async with self._poll_lock:
            await self._poll_claimed()

    async def _poll_claimed(self) -> None:
        poller, owner = self.poller, self.instance_id
        # A claim no bigger than what is fetched at once, so a batch finishes well within
        # its lease even on a loaded machine; the next job run claims the next batch.
        limit = self.settings.polling.concurrency
        due = await asyncio.to_thread(poller.claim_due, owner, limit)
        if not due:
            return
        self._polling = poller
        try:
            summary = await poller.poll(due)
        except asyncio.CancelledError:
            # Stopping: hand unfinished feeds back now rather than when the lease expires.
            await asyncio.shield(asyncio.to_thread(poller.release, due, owner))
            raise
        finally:
            self._polling = None
            if poller is not self.poller:  # replaced by a reload while it polled
                poller.parse_pool.shutdown(wait=False)
                await poller.writer.aclose()
        log.info(
            "polled %d feeds: %d fetched, %d not modified, %d failed, %d new entries, %d matches",
            len(summary.outcomes),
            summary.count("fetched"),
            summary.count("not_modified"),
            summary.count("failed"),
            summary.new_entries,
            summary.matches,
        )
        if summary.matches:
            await self.deliver()

    async def deliver(self) -> None:
        await self.dispatcher.run_once(self.stop_event)

    def reload(self, reason: str) -> None:
        self._stamp = config_stamp(self.settings.config_dir)
        try:
            settings = load_settings(self.settings.config_dir, os.environ)
        except ConfigErrors as exc:
            for error in exc.errors:
                log.error(
                    "config reload (%s) rejected, keeping the running config: %s", reason, error
                )
            return
        if settings.storage.url != self.settings.storage.url:
            log.warning("config reload: storage.url changed; restart to use the new database")
            settings = _with_storage(settings, self.settings)
        old_poller, old_channels = self.poller, self.channels
        try:
            self._apply(settings)
        except AggregatorError as exc:
            log.error("config reload (%s) failed, keeping the running config: %s", reason, exc)
            return
        if old_poller is not self._polling:  # else poll_due closes it when its poll ends
            old_poller.parse_pool.shutdown(wait=False)
            asyncio.get_running_loop().create_task(old_poller.writer.aclose())
        for channel in old_channels.values():
            asyncio.get_running_loop().create_task(channel.aclose())
        log.info(
            "config reloaded (%s): %d feeds, %d watchlists, %d channels",
            reason,
            len(settings.feeds),
            len(settings.watchlists),
            len(settings.channels),
        )

    async def check_reload(self) -> None:
        if config_stamp(self.settings.config_dir) != self._stamp:
            self.reload("files changed")

    def _install_signals(self, loop: asyncio.AbstractEventLoop) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._request_stop, sig.name)
        loop.add_signal_handler(signal.SIGHUP, self.reload, "SIGHUP")

    def _request_stop(self, name: str) -> None:
        log.info("%s received: stopping", name)
        self.stop_event.set()

    def _scheduler(self) -> AsyncIOScheduler:
        scheduler = AsyncIOScheduler(timezone="UTC")
        jobs = (
            ("poll", self.poll_due, POLL_CHECK_SECONDS),
            ("deliver", self.deliver, self.settings.alerts.deliver_interval.total_seconds()),
            ("reload", self.check_reload, RELOAD_CHECK_SECONDS),
            ("heartbeat", self.heartbeat, HEARTBEAT.total_seconds()),
        )
        for name, job, seconds in jobs:
            scheduler.add_job(
                self._tracked,
                "interval",
                args=[job],
                seconds=seconds,
                id=name,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=None,
            )
        scheduler.add_job(  # retention: daily, and once soon after a start
            self._tracked,
            "interval",
            args=[self.prune],
            seconds=PRUNE_EVERY.total_seconds(),
            id="prune",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
            next_run_time=datetime.now(UTC) + PRUNE_FIRST_AFTER,
        )
        return scheduler

    async def prune(self) -> None:
        """Delete entries and stories older than [retention] max_age (tombstones stay)."""
        prune = retention.prune_by_settings
        report = await asyncio.to_thread(prune, self.db, self.settings, utcnow())
        log.info(
            "retention: pruned %d entries (tombstoned), %d stories, %d dedup index rows",
            report.entries,
            report.stories,
            report.bands,
        )

    def _recover(self) -> None:
        """Register this instance; on SQLite (one instance) drop a crashed run's leases."""
        with self.db.transaction() as session:
            instances.register(
                session,
                instance_id=self.instance_id,
                hostname=socket.gethostname(),
                pid=os.getpid(),
                version=__version__,
                now=utcnow(),
            )
            if self.db.is_sqlite:
                released = outbox.release_all(session)
                feed_store.release_all(session)
                if released:
                    log.info("released %d deliveries claimed by a previous run", released)

    async def heartbeat(self) -> None:
        def beat() -> None:
            with self.db.transaction() as session:
                instances.heartbeat(session, self.instance_id, utcnow())

        await asyncio.to_thread(beat)

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        await asyncio.to_thread(self._recover)
        self._install_signals(loop)
        scheduler = self._scheduler()
        scheduler.start()
        await asyncio.gather(self._tracked(self.poll_due), self._tracked(self.deliver))
        sd_notify("READY=1")
        log.info(
            "aggregator running as %s: %d feeds, %d watchlists, %d channels",
            self.instance_id,
            len(self.settings.feeds),
            len(self.settings.watchlists),
            len(self.settings.channels),
        )
        await self.stop_event.wait()
        sd_notify("STOPPING=1")
        scheduler.shutdown(wait=False)
        await self._stop_in_flight()
        return 0

    async def _stop_in_flight(self) -> None:
        tasks = list(self._tasks)
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=STOP_GRACE_SECONDS / 2)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=STOP_GRACE_SECONDS / 2)
        for channel in self.channels.values():
            with suppress(Exception):
                await channel.aclose()
        self.poller.parse_pool.shutdown(wait=False, cancel_futures=True)
        self.poller.db_pool.shutdown(wait=True)
        with suppress(AggregatorError), self.db.transaction() as session:
            instances.stopped(session, self.instance_id, utcnow())
        self.db.dispose()
        log.info("stopped")


def _with_storage(new: Settings, old: Settings) -> Settings:
    return replace(new, storage=old.storage)


async def run_daemon(settings: Settings) -> int:
    """Run until SIGTERM/SIGINT; on SQLite, refuse to start beside another instance."""
    lock = SqliteLock(settings.storage.url) if is_sqlite(settings.storage.url) else None
    if lock is not None:
        lock.acquire()
    try:
        Database(settings.storage.url).migrate()
        return await Daemon(settings).run()
    finally:
        if lock is not None:
            lock.release()
