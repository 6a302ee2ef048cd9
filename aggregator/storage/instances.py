"""The instances table: which `aggregator run` processes share this database, and whether
they are alive (a heartbeat), plus the single-instance guard for SQLite files.

Never commits (the caller's transaction does), except the lock file, which is the one
piece of I/O here: an advisory lock next to an SQLite database, released by the kernel
when the process dies, so a SIGKILLed instance never blocks the next start.
"""

from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO

from sqlalchemy.engine import make_url
from sqlmodel import Session, col, select

from aggregator.errors import StorageError
from aggregator.storage.models import Feed, Instance


@dataclass(frozen=True, slots=True)
class InstanceRow:
    id: str
    hostname: str
    pid: int
    version: str
    started_at: datetime
    heartbeat_at: datetime
    stopped_at: datetime | None
    feeds_leased: int


def register(
    session: Session, *, instance_id: str, hostname: str, pid: int, version: str, now: datetime
) -> None:
    row = session.get(Instance, instance_id)
    if row is None:
        row = Instance(
            id=instance_id,
            hostname=hostname,
            pid=pid,
            version=version,
            started_at=now,
            heartbeat_at=now,
        )
        session.add(row)
    row.started_at, row.heartbeat_at, row.stopped_at = now, now, None


def heartbeat(session: Session, instance_id: str, now: datetime) -> None:
    row = session.get(Instance, instance_id)
    if row is not None:
        row.heartbeat_at = now


def stopped(session: Session, instance_id: str, now: datetime) -> None:
    row = session.get(Instance, instance_id)
    if row is not None:
        row.stopped_at = now


def instance_rows(session: Session) -> list[InstanceRow]:
    leased: dict[str, int] = {}
    for owner in session.exec(select(Feed.lease_owner).where(col(Feed.lease_owner).is_not(None))):
        leased[str(owner)] = leased.get(str(owner), 0) + 1
    rows = session.exec(select(Instance).order_by(col(Instance.started_at))).all()
    return [
        InstanceRow(
            r.id,
            r.hostname,
            r.pid,
            r.version,
            r.started_at,
            r.heartbeat_at,
            r.stopped_at,
            leased.get(r.id, 0),
        )
        for r in rows
    ]


def is_alive(row: InstanceRow, now: datetime, heartbeat_every: timedelta) -> bool:
    return row.stopped_at is None and now - row.heartbeat_at <= heartbeat_every * 3


class SqliteLock:
    """An exclusive advisory lock on `<database>.lock`: one `aggregator run` per SQLite file."""

    def __init__(self, url: str) -> None:
        database = make_url(url).database or ""
        self.path = Path(database + ".lock") if database not in ("", ":memory:") else None
        self._handle: IO[str] | None = None

    def acquire(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            database = self.path.with_suffix("")
            raise StorageError(
                f"another aggregator instance ({holder}) is running on {database}; "
                "SQLite supports one instance: stop it, or use PostgreSQL for several"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}\n")
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None
