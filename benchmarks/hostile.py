#!/usr/bin/env python3
"""What `aggregator poll` makes of each hostile server: outcome, time and memory peak.

Each case of tests/helpers/hostile.py is served on loopback beside two good feeds and
polled by `python -m aggregator poll` in a subprocess of its own, with the limits the
cases assume (12 MiB body cap, 3 s fetch deadline, 20 s parse deadline). For each case
the script prints the recorded error (or the entries stored), the wall time of the whole
command (start-up and migrations included) and the peak RSS of the poll process and of
its largest parser worker. The output is a markdown table.

  python benchmarks/hostile.py [CASE ...]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers.feeds import rss2  # noqa: E402
from tests.helpers.feedserver import FeedServer  # noqa: E402
from tests.helpers.hostile import (  # noqa: E402
    CASES,
    FETCH_TIMEOUT,
    GOOD_ITEMS,
    Case,
    config_extra,
    plant_markers,
)
from tests.helpers.procmem import TreePeak  # noqa: E402


def write_config(directory: Path, feeds: list[tuple[str, str]]) -> Path:
    config = directory / "config"
    config.mkdir(parents=True)
    (config / "aggregator.toml").write_text(
        f'[storage]\nurl = "sqlite:///{directory / "data" / "aggregator.db"}"\n'
        f'[http]\ntimeout = "{FETCH_TIMEOUT:g}s"\nallow_private_networks = true\n' + config_extra()
    )
    (config / "feeds.toml").write_text(
        "".join(f'[[feeds]]\nname = "{n}"\nurl = "{u}"\n' for n, u in feeds)
    )
    (config / "watchlists.toml").write_text("")
    return config


def run_case(case: Case) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        server = FeedServer()
        try:
            directory = Path(tmp)
            url = case.install(server, plant_markers(directory / "local"))
            good = server.set("/good.xml", rss2(GOOD_ITEMS))
            config = write_config(directory, [("good", good), ("hostile", url)])
            started = time.monotonic()
            proc = subprocess.Popen(
                [sys.executable, "-m", "aggregator", "poll", "--config", str(config)],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )
            memory = TreePeak(proc.pid)
            proc.communicate(timeout=300)
            memory.stop()
            elapsed = time.monotonic() - started
            with sqlite3.connect(directory / "data" / "aggregator.db") as conn:
                error, entries = conn.execute(
                    "SELECT f.last_error, (SELECT count(*) FROM entries e WHERE e.feed_id = f.id)"
                    " FROM feeds f WHERE f.name = 'hostile'"
                ).fetchone()
        finally:
            server.close()
    outcome = f"error: {error}" if error else f"stored, {entries} entries"
    outcome = outcome.replace("|", "\\|")
    return (
        f"| {case.name} | {outcome} | {elapsed:.1f} s | {memory.root_mb:.0f} MB"
        f" | {memory.others_mb:.0f} MB |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*", help="only these cases (default: all)")
    args = parser.parse_args()
    chosen = [c for c in CASES if not args.cases or c.name in args.cases]
    print("| case | what the poll recorded | time | peak RSS, poll | peak RSS, worker |")
    print("| --- | --- | --- | --- | --- |")
    for case in chosen:
        print(run_case(case), flush=True)


if __name__ == "__main__":
    main()
