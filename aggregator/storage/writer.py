"""Group many small writes into few transactions, on one database thread.

A poll produces one small write per feed; committing each alone made the commit itself
the cost (an fsync per feed on SQLite). The writer takes whatever writes are queued when
it is free (a lone write first waits LINGER for company) and runs them in one
transaction. If that transaction fails, each write is
retried in a transaction of its own, so one bad feed never fails the others. Writes are
functions of a Session; they must not do network I/O or wait on anything.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any, TypeVar

from sqlmodel import Session

from aggregator.errors import StorageError
from aggregator.storage.db import Database

T = TypeVar("T")
Write = Callable[[Session], Any]
MAX_BATCH = 100
# How long a lone write waits for company. An unchanged poll makes one tiny write per feed,
# about one a millisecond: alone, each paid a transaction and a hop to the database
# thread; gathered, they share them. Feeds don't mind 20 ms.
LINGER = 0.02


class BatchWriter:
    def __init__(
        self, db: Database, pool: Executor, max_batch: int = MAX_BATCH, linger: float = LINGER
    ) -> None:
        self._db = db
        self._linger = linger
        self._pool = pool
        self._max = max_batch
        self._queue: asyncio.Queue[tuple[Write, asyncio.Future[Any]]] | None = None
        self._task: asyncio.Task[None] | None = None

    async def write(self, fn: Callable[[Session], T]) -> T:
        """Run `fn` in a transaction shared with other queued writes; returns its result."""
        if self._queue is None or self._task is None or self._task.done():
            self._queue = asyncio.Queue()
            self._task = asyncio.get_running_loop().create_task(self._consume(self._queue))
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        await self._queue.put((fn, future))
        return await future

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _consume(self, queue: asyncio.Queue[tuple[Write, asyncio.Future[Any]]]) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await queue.get()]
            try:
                if queue.empty() and self._linger:
                    await asyncio.sleep(self._linger)  # let a few more writes join this one
                while len(batch) < self._max and not queue.empty():
                    batch.append(queue.get_nowait())
                fns = [fn for fn, _ in batch]
                outcomes = await loop.run_in_executor(self._pool, self._apply, fns)
            except asyncio.CancelledError:  # closing: the writers in hand must not wait forever
                for _, future in batch:
                    future.cancel()
                raise
            for (_, future), (ok, value) in zip(batch, outcomes, strict=True):
                if future.done():
                    continue
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(value)

    def _apply(self, writes: list[Write]) -> list[tuple[bool, Any]]:
        try:
            with self._db.transaction() as session:
                return [(True, fn(session)) for fn in writes]
        except Exception as exc:
            if len(writes) == 1:
                return [(False, _as_storage_error(exc))]
        return [self._alone(fn) for fn in writes]

    def _alone(self, fn: Write) -> tuple[bool, Any]:
        try:
            with self._db.transaction() as session:
                return True, fn(session)
        except Exception as exc:  # a bug in one write must not take the poll down
            return False, _as_storage_error(exc)


def _as_storage_error(exc: Exception) -> StorageError:
    if isinstance(exc, StorageError):
        return exc
    return StorageError(f"write failed: {exc.__class__.__name__}: {exc}")
