"""Runs the CPU stage (`process.process_body`) in worker processes, under a deadline.

A hostile body can keep a parser busy for hours (a quadratic regular expression, a
pathological document), and ProcessPoolExecutor can neither cancel a task a worker has
started nor lose one worker without breaking the whole executor. So:

- at most `workers` tasks are in a pool at once, each on an idle worker, so the deadline
  measures parsing, not time spent queueing behind other feeds;
- a task that overruns the deadline raises `ParseError("parse timed out after Ns")` and
  retires its pool: new tasks go to a fresh pool at once, and the retired pool's
  processes are killed as soon as the other tasks still running on it have finished
  (each bounded by its own deadline), so no innocent feed is lost to the recycling;
- a worker that dies (the OOM killer, a crash in C code) fails the tasks then in its
  pool with ParseError, and the pool is replaced;
- workers exit by themselves when the process that owns the pool dies (a SIGKILLed
  daemon leaves no parser processes behind; see `process.init_worker`).

With `workers=0` tasks run on a thread of this process (tests, tiny setups): a thread
cannot be killed, so an overrun still gives the feed its ParseError and later tasks a
fresh thread, but the stuck thread runs on until it finishes.

Must not: parse, store or decide anything about a feed; only run tasks and bound them.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import suppress

from aggregator.errors import ParseError
from aggregator.process import BodyTask, Processed, init_worker, process_body
from aggregator.settings import WatchlistSettings
from aggregator.watch import WatchRules

__all__ = ["ParsePool"]

log = logging.getLogger(__name__)


class ParsePool:
    """Process-pool parsing with a per-task deadline; reusable across polls and loops."""

    def __init__(
        self,
        watchlists: Sequence[WatchlistSettings],
        *,
        workers: int | None = None,
        deadline: float = 30.0,
        function: Callable[..., Processed] = process_body,
    ) -> None:
        self.workers = workers if workers is not None else (os.cpu_count() or 1)
        self.deadline = deadline
        self._function = function  # process_body; tests pass stand-ins
        self._watchlists = tuple(watchlists)
        self._inline_rules = WatchRules(self._watchlists) if self.workers <= 0 else None
        self._pool = self._new_pool()
        self._running: dict[Executor, int] = {}  # tasks in flight, per pool
        self._retired: set[Executor] = set()
        self._ready: set[Executor] = set()  # process pools with a started worker
        self._slots: asyncio.Semaphore | None = None
        self._slots_loop: asyncio.AbstractEventLoop | None = None
        self.recycled = 0  # pools retired so far (for tests and logs)
        self._closed = False

    def _new_pool(self) -> Executor:
        if self.workers <= 0:
            return ThreadPoolExecutor(1, "parse")
        context = multiprocessing.get_context("forkserver")  # never fork a threaded process
        context.set_forkserver_preload(["aggregator.process"])  # a no-op once it is running
        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=context,
            initializer=init_worker,
            initargs=(self._watchlists, os.getpid()),  # workers exit if this process dies
        )

    def _semaphore(self) -> asyncio.Semaphore:
        """One slot per worker, made for the running loop (polls may use several loops)."""
        loop = asyncio.get_running_loop()
        if self._slots is None or self._slots_loop is not loop:
            self._slots = asyncio.Semaphore(max(self.workers, 1))
            self._slots_loop = loop
        return self._slots

    async def _start(self, task: BodyTask) -> tuple[Executor, Future[Processed]]:
        """Submit `task` to a ready pool: one whose workers have started (not timed)."""
        for _ in range(2):
            if self._closed:
                raise ParseError("the parser is shut down (stopping or reloading)")
            pool = self._pool
            try:
                if self._inline_rules is not None:
                    return pool, pool.submit(self._function, task, self._inline_rules)
                if pool not in self._ready:
                    # The first task of a pool waits for a worker to start (the fork
                    # server's first start imports the package); that is not parsing.
                    await asyncio.wrap_future(pool.submit(os.getpid))
                    self._ready.add(pool)
                return pool, pool.submit(self._function, task)
            except (BrokenProcessPool, RuntimeError):  # a worker died, or shut down
                self._retire(pool, "it is broken")
                self._reap(pool)
        raise ParseError("cannot start a parser process")

    async def run(self, task: BodyTask) -> Processed:
        """Parse, normalise and match one body; ParseError on a bad body or an overrun."""
        async with self._semaphore():
            pool, future = await self._start(task)
            self._running[pool] = self._running.get(pool, 0) + 1
            try:
                return await asyncio.wait_for(asyncio.wrap_future(future), self.deadline)
            except TimeoutError:
                self._retire(pool, f"a parse overran its {self.deadline:g}s deadline")
                raise ParseError(f"parse timed out after {self.deadline:g}s") from None
            except BrokenProcessPool:
                self._retire(pool, "a worker process died")
                raise ParseError("the parser process died (out of memory?)") from None
            except ParseError:
                raise
            except Exception as exc:  # e.g. a result that cannot be sent back
                raise ParseError(f"parse failed: {exc.__class__.__name__}: {exc}") from None
            finally:
                self._running[pool] -= 1
                self._reap(pool)

    def _retire(self, pool: Executor, why: str) -> None:
        """Send new tasks to a fresh pool; kill this one once nothing else runs on it."""
        if pool is not self._pool:
            return  # already retired by another task
        self._retired.add(pool)
        if self._closed:
            return
        log.warning("replacing the parser pool: %s", why)
        self.recycled += 1
        self._pool = self._new_pool()

    def _reap(self, pool: Executor) -> None:
        if pool in self._retired and self._running.get(pool, 0) <= 0:
            self._retired.discard(pool)
            self._running.pop(pool, None)
            self._ready.discard(pool)
            _kill(pool)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop taking tasks; kill retired pools, and the current one if `cancel_futures`.

        `cancel_futures` means nobody waits for the tasks in flight (the daemon is
        stopping): killing the workers then is what keeps a stuck parse from holding up
        the exit. Otherwise tasks in flight finish, and `wait` waits for them.
        """
        self._closed = True
        for pool in list(self._retired):
            if self._running.get(pool, 0) <= 0 or cancel_futures:
                self._retired.discard(pool)
                _kill(pool)
        if cancel_futures:
            _kill(self._pool)
        else:
            self._pool.shutdown(wait=wait)


def _kill(pool: Executor) -> None:
    """Stop a pool whose workers may be stuck in a task: kill them, then shut it down."""
    if isinstance(pool, ProcessPoolExecutor):
        processes = list((getattr(pool, "_processes", None) or {}).values())
        for process in processes:
            with suppress(Exception):
                process.kill()
        pool.shutdown(wait=False, cancel_futures=True)
    else:
        pool.shutdown(wait=False, cancel_futures=True)
