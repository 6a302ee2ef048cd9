"""PollGate: per-host and global fetch limits, and backpressure from a slow store."""

from __future__ import annotations

import asyncio

from aggregator.gate import PollGate


class Peak:
    def __init__(self) -> None:
        self.now = self.peak = 0

    def __enter__(self) -> None:
        self.now += 1
        self.peak = max(self.peak, self.now)

    def __exit__(self, *exc: object) -> None:
        self.now -= 1


def test_fetches_stay_under_the_host_and_global_limits() -> None:
    gate = PollGate(total=5, per_host=2)
    hosts = {host: Peak() for host in "abcdef"}
    overall = Peak()

    async def poll(host: str, i: int) -> None:
        async with gate.fetching(f"https://{host}.example/{i}"):
            with hosts[host], overall:
                await asyncio.sleep(0.002)

    async def main() -> None:
        await asyncio.gather(*(poll(h, i) for i in range(10) for h in "aaab" + "cdef"))

    asyncio.run(main())
    assert hosts["a"].peak == 2, "the busy host is held to its two slots"
    assert overall.peak == 5
    assert overall.now == 0


def test_a_slow_store_holds_back_fetching_instead_of_piling_up() -> None:
    gate = PollGate(total=8, per_host=8, backlog=3)
    stored = Peak()
    started = 0

    async def poll(i: int) -> None:
        nonlocal started
        async with gate.fetching("https://a.example/"):
            started += 1
            await gate.backlog.acquire()
        try:
            with stored:
                await asyncio.sleep(0.01)
        finally:
            gate.backlog.release()

    async def main() -> int:
        tasks = [asyncio.create_task(poll(i)) for i in range(40)]
        await asyncio.sleep(0.005)
        early = started  # fetches begun while the first three are still being stored
        await asyncio.gather(*tasks)
        return early

    early = asyncio.run(main())
    assert stored.peak == 3
    assert early <= 3 + 8, "fetching ran ahead of storing by more than the fetch slots"
    assert started == 40
