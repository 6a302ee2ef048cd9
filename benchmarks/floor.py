#!/usr/bin/env python3
"""The floor under a poll: what httpx alone, and starting Python, cost on this machine.

`aggregator poll` fetches with httpx (the project's chosen HTTP client) on one event
loop. This script times bare httpx, with nothing of aggregator around it, on the same
kind of corpus `poll.py` uses (../shared/bench/gen_corpus.py served by nginx on
loopback), with aggregator's fetch shape: one AsyncClient, 8 requests in flight (the
per-host limit; every feed is on one host), a streamed body:

1. every feed fetched (200, gzip bodies, as a first poll);
2. every feed fetched again with its ETag (304, as an unchanged poll);
3. `python -c "import aggregator.cli"` and `aggregator --help`: start-up alone.

A poll cannot be faster than (3) + (1) or (3) + (2); compare them with reader's figures
from `poll.py` to see which of issue 4's targets httpx leaves within reach.

  python benchmarks/floor.py --feeds 2000 [--entries 40] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from poll import (  # a sibling script, not a package
    BenchError,
    find_tool,
    free_port,
    gen_corpus,
    nginx_env,
    run_in_workdir,
    served,
    urls_of,
)

IN_FLIGHT = 8  # aggregator's default per-host limit, as reader's workers=8


async def _get_all(urls: list[str], etags: dict[str, str]) -> tuple[float, int]:
    """Fetch every URL (conditionally where an ETag is known); seconds and 304 count."""
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    not_modified = 0
    async with httpx.AsyncClient(limits=limits, timeout=30.0) as client:
        gate = asyncio.Semaphore(IN_FLIGHT)

        async def one(url: str) -> None:
            nonlocal not_modified
            headers = {"If-None-Match": etags[url]} if url in etags else {}
            async with gate, client.stream("GET", url, headers=headers) as response:
                async for _ in response.aiter_bytes():
                    pass
                etags[url] = response.headers.get("ETag", "")
                not_modified += response.status_code == 304

        start = time.perf_counter()
        await asyncio.gather(*(one(url) for url in urls))
        return time.perf_counter() - start, not_modified


def _startup(command: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _measure(args: argparse.Namespace, root: Path) -> str:
    tool = find_tool(args.corpus_tool)
    nginx_env()
    corpus, port = root / "corpus", free_port()
    print(f"generating {args.feeds} feeds x {args.entries} entries ...")
    base = f"http://127.0.0.1:{port}"
    sizes = ["--feeds", str(args.feeds), "--entries", str(args.entries)]
    gen_corpus(tool, str(corpus), *sizes, "--base-url", base)
    root.chmod(0o755)
    rows = []
    with served(tool, corpus, port):
        urls = urls_of(corpus)
        for _ in range(args.repeat):
            etags: dict[str, str] = {}
            full, _ = asyncio.run(_get_all(urls, etags))
            cond, n304 = asyncio.run(_get_all(urls, etags))
            if n304 != len(urls):
                raise BenchError(f"expected {len(urls)} 304 answers, got {n304}")
            rows.append((full, cond))
    imports = _startup([sys.executable, "-c", "import aggregator.cli"], args.repeat)
    helps = _startup([sys.executable, "-m", "aggregator", "--help"], args.repeat)
    full = statistics.median(r[0] for r in rows)
    cond = statistics.median(r[1] for r in rows)
    n = len(urls)
    return "\n".join(
        [
            f"Command: `python benchmarks/floor.py --feeds {args.feeds} --entries {args.entries}`"
            f" (median of {args.repeat})",
            "",
            "| what | seconds | per feed |",
            "| --- | --- | --- |",
            f"| bare httpx, {n} GETs (200, gzip) | {full:.2f} | {full / n * 1000:.2f} ms |",
            f"| bare httpx, {n} conditional GETs (304) | {cond:.2f} | {cond / n * 1000:.2f} ms |",
            f"| `import aggregator.cli` | {imports:.2f} | |",
            f"| `python -m aggregator --help` | {helps:.2f} | |",
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--feeds", type=int, default=2000, help="feeds in the corpus (2000)")
    parser.add_argument("--entries", type=int, default=40, help="entries per feed (40)")
    parser.add_argument("--repeat", type=int, default=3, help="runs; the median is shown (3)")
    parser.add_argument("--corpus-tool", type=Path, metavar="PATH", help="gen_corpus.py")
    args = parser.parse_args()
    code, _ = run_in_workdir(None, lambda root: _measure(args, root))
    return code


if __name__ == "__main__":
    sys.exit(main())
