#!/usr/bin/env python3
"""Time 1, 2, 3... `aggregator run` instances sharing one PostgreSQL database.

Generates a corpus with ../shared/bench/gen_corpus.py and serves it with nginx
(../shared/bench/serve.sh), as poll.py does. Then, for each count N in --instances, it
creates a fresh PostgreSQL database, writes an aggregator config for it, runs
`aggregator db upgrade` once and starts N `aggregator run` processes (instance ids
bench-1 ... bench-N). It measures the wall time until every feed has been fetched once
(`feeds.last_fetched_at` set on every row) and no delivery is pending, the peak of the
summed RSS of all the instances' process trees, the CPU time of the instances and of the
PostgreSQL backends serving them, how busy the machine's CPUs were, and how many feeds each
instance polled (from its `feed NAME: fetched, ...` log lines). The instances are then
stopped with SIGTERM (each must exit 0 within 10 s) and the database dropped. A run in
which no feed is fetched for 180 s stops with an error. The output is markdown, ready for
benchmarks/README.md.

  python benchmarks/instances.py --feeds 1000 [--instances 1 2 3] [--pg-url URL] [--keep DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import shlex
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from poll import (
    WATCHLIST,
    BenchError,
    aggregator_cmd,
    descendants,
    find_tool,
    free_port,
    gen_corpus,
    nginx_version,
    proc_kb,
    run_in_workdir,
    served,
    toml_list,
    urls_of,
    version,
)
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, Connection, make_url

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
SAMPLE_SECONDS = 0.2  # how often the database and the processes' memory are sampled
STOP_SECONDS = 10.0  # an instance must exit within this long of SIGTERM
STALL_SECONDS = 180.0  # no feed fetched for three 1m leases: the run is stuck
FETCHED_RE = re.compile(r" feed (?P<name>\S+): fetched, ")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
LOCAL_HOSTS = (None, "", "127.0.0.1", "localhost", "::1")  # PostgreSQL's pids are ours to read
Procs = list[subprocess.Popen[bytes]]
PROGRESS_SQL = text(
    "SELECT (SELECT count(*) FROM feeds), (SELECT count(last_fetched_at) FROM feeds),"
    " (SELECT count(*) FROM feeds WHERE consecutive_errors > 0),"
    " (SELECT count(*) FROM deliveries WHERE status = 'pending'),"
    " (SELECT count(*) FROM deliveries WHERE status = 'delivered'),"
    " (SELECT count(*) FROM feeds WHERE lease_owner IS NOT NULL)"
)
BACKENDS_SQL = text(
    "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
    " AND pid <> pg_backend_pid()"
)


@dataclass(frozen=True)
class Progress:
    """What the database says at one moment."""

    feeds: int  # feed rows
    fetched: int  # ... with last_fetched_at set
    failed: int  # ... whose last poll failed
    pending: int  # deliveries not yet sent
    delivered: int
    leased: int  # feeds claimed by an instance right now

    def describe(self, feeds: int) -> str:
        return (
            f"{self.fetched} of {feeds} feeds fetched, {self.leased} leased, "
            f"{self.failed} failed; {self.pending} deliveries pending"
        )


@dataclass
class Usage:
    """Resources sampled while the instances run."""

    machine_start: tuple[int, int]  # busy and total CPU jiffies of the machine, /proc/stat
    machine_busy: float = 0.0  # share of all CPUs busy since the start (anyone's work)
    peak_rss_kb: int = 0  # peak of the summed VmRSS of every instance's process tree
    instance_cpu: float = 0.0  # CPU seconds of the instances' process trees
    backend_cpu: dict[int, float] = field(default_factory=dict)  # PostgreSQL pid: CPU s
    local_db: bool = True  # PostgreSQL on this machine: its backends' CPU is readable


@dataclass(frozen=True)
class Result:
    """One count of instances, measured."""

    instances: int
    seconds: float
    usage: Usage
    per_instance: list[int]  # feeds fetched by bench-1, bench-2, ... (from their logs)
    repeated: list[str]  # feeds fetched more than once, by any instances
    progress: Progress
    stop_problems: list[str]


# --- database -------------------------------------------------------------------------------


@contextlib.contextmanager
def fresh_database(admin_url: str) -> Iterator[URL]:
    """Create an empty database beside admin_url's; drop it (WITH FORCE) on the way out."""
    admin = make_url(admin_url)
    name = f"bench_instances_{secrets.token_hex(4)}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        engine.dispose()
        raise BenchError(f"cannot create a database at {admin!r}: {exc}") from exc
    try:
        yield admin.set(database=name)
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


def read_progress(conn: Connection) -> Progress:
    row = conn.execute(PROGRESS_SQL).one()
    conn.rollback()  # end the snapshot, so that the next sample sees new commits
    return Progress(*(int(v) for v in row))


def server_version(admin_url: str) -> str:
    engine = create_engine(admin_url)
    try:
        with engine.connect() as conn:
            return str(conn.execute(text("SHOW server_version")).scalar_one()).split()[0]
    finally:
        engine.dispose()


# --- config ---------------------------------------------------------------------------------


def write_config(config: Path, urls: list[str], db_url: URL) -> None:
    """aggregator.toml, feeds.toml and watchlists.toml for the corpus on db_url.

    The password, if any, stays out of the file: the instances get the whole URL from
    $AGGREGATOR_STORAGE_URL, which overrides [storage] url.
    """
    config.mkdir(parents=True, exist_ok=True)
    shown = db_url.set(password=None).render_as_string(hide_password=False)
    (config / "aggregator.toml").write_text(
        f"[storage]\nurl = {json.dumps(shown)}\n\n"
        "[http]\nallow_private_networks = true\n\n"
        "[polling]\nconcurrency = 64\n"
        "per_host_concurrency = 64  # every feed is on one loopback host, 127.0.0.1\n"
        'lease = "1m"\ndefault_interval = "1h"\nmin_interval = "1h"\n\n'
        '[alerts]\ndeliver_interval = "1s"\n\n'
        '[[channels]]\nname = "console"\ntype = "log"\n'
    )
    feeds = "".join(
        f'[[feeds]]\nname = "{Path(urlsplit(u).path).stem}"\nurl = {json.dumps(u)}\n\n'
        for u in urls
    )
    (config / "feeds.toml").write_text(feeds)
    (config / "watchlists.toml").write_text(
        f'[[watchlists]]\nname = "bench"\nany = {toml_list(WATCHLIST)}\nchannels = ["console"]\n'
    )


def instance_env(db_url: URL, instance_id: str | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["AGGREGATOR_STORAGE_URL"] = db_url.render_as_string(hide_password=False)
    if instance_id is not None:
        env["AGGREGATOR_INSTANCE_ID"] = instance_id
    return env


def db_upgrade(config: Path, db_url: URL, output: Path) -> None:
    cmd = [*aggregator_cmd(), "db", "upgrade", "--config", str(config)]
    with output.open("w") as out:
        done = subprocess.run(
            cmd, stdout=out, stderr=subprocess.STDOUT, env=instance_env(db_url), check=False
        )
    if done.returncode != 0:
        raise BenchError(f"{shlex.join(cmd)} exited {done.returncode}; see {output}")


# --- instances ------------------------------------------------------------------------------


def start_instances(config: Path, db_url: URL, work: Path, count: int) -> Procs:
    """Start bench-1 ... bench-count, stdout to bench-i.out and stderr to bench-i.err."""
    cmd = [*aggregator_cmd(), "run", "--config", str(config)]
    procs = []
    for i in range(1, count + 1):
        name = f"bench-{i}"
        with (work / f"{name}.out").open("w") as out, (work / f"{name}.err").open("w") as err:
            procs.append(
                subprocess.Popen(cmd, stdout=out, stderr=err, env=instance_env(db_url, name))
            )
    return procs


def cpu_seconds(pid: int) -> float:
    """utime + stime of pid and of the children it has reaped; 0 when it is gone."""
    with contextlib.suppress(OSError, ValueError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return sum(int(f) for f in fields[11:15]) / CLOCK_TICKS
    return 0.0


def machine_jiffies() -> tuple[int, int]:
    """Busy and total CPU time of the whole machine so far (all CPUs), from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    total = sum(values)
    return total - values[3] - values[4], total  # idle and iowait are not busy


def sample(usage: Usage, procs: Procs, backends: list[int]) -> None:
    """Fold one sample of memory and CPU into usage."""
    pids = [p for proc in procs for p in descendants(proc.pid)]
    rss = sum(proc_kb(f"/proc/{p}/status", "VmRSS:") for p in pids)
    usage.peak_rss_kb = max(usage.peak_rss_kb, rss)
    usage.instance_cpu = max(usage.instance_cpu, sum(cpu_seconds(p) for p in pids))
    for pid in backends if usage.local_db else []:
        usage.backend_cpu[pid] = max(usage.backend_cpu.get(pid, 0.0), cpu_seconds(pid))
    (busy0, total0), (busy, total) = usage.machine_start, machine_jiffies()
    usage.machine_busy = (busy - busy0) / max(1, total - total0)


def check_alive(procs: Procs, work: Path) -> None:
    for i, proc in enumerate(procs, start=1):
        if proc.poll() is not None:
            log = work / f"bench-{i}.err"
            tail = "\n".join(log.read_text().splitlines()[-20:])
            raise BenchError(f"bench-{i} exited {proc.returncode} early; see {log}:\n{tail}")


def wait_until_done(
    db_url: URL, procs: Procs, work: Path, feeds: int, timeout: float, usage: Usage
) -> Progress:
    """Sample until every feed is fetched and nothing is pending; the last sample."""
    engine = create_engine(db_url, pool_size=1)
    deadline = time.monotonic() + timeout
    last, moved = -1, time.monotonic()
    try:
        with engine.connect() as conn:
            while True:
                backends = [int(pid) for pid in conn.execute(BACKENDS_SQL).scalars()]
                sample(usage, procs, backends)
                progress = read_progress(conn)
                if progress.fetched >= feeds and progress.pending == 0:
                    return progress
                check_alive(procs, work)
                now = time.monotonic()
                if progress.fetched != last:
                    last, moved = progress.fetched, now
                if now > deadline or now - moved > STALL_SECONDS:
                    why = (
                        f"not done after {timeout:.0f} s"
                        if now > deadline
                        else f"stuck: no feed fetched for {STALL_SECONDS:.0f} s"
                    )
                    raise BenchError(f"{why}: {progress.describe(feeds)}; logs in {work}")
                time.sleep(SAMPLE_SECONDS)
    finally:
        engine.dispose()


def stop_instances(procs: Procs) -> list[str]:
    """SIGTERM every instance; what went wrong (a non-zero exit, or none within 10 s)."""
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_SECONDS
    problems = []
    for i, proc in enumerate(procs, start=1):
        try:
            code = proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            problems.append(f"bench-{i} still running {STOP_SECONDS:.0f} s after SIGTERM")
            continue
        if code != 0:
            problems.append(f"bench-{i} exited {code} after SIGTERM")
    return problems


def kill_all(procs: Procs) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def fetched_by_instance(work: Path, count: int) -> list[list[str]]:
    """The feeds each instance fetched, from its `feed NAME: fetched, ...` log lines."""
    return [FETCHED_RE.findall((work / f"bench-{i}.err").read_text()) for i in range(1, count + 1)]


def run_instances(args: argparse.Namespace, urls: list[str], work: Path, count: int) -> Result:
    """One measured run: fresh database, N instances until done, stop, drop."""
    work.mkdir(parents=True, exist_ok=True)
    config = work / "config"
    with fresh_database(args.pg_url) as db_url:
        write_config(config, urls, db_url)
        db_upgrade(config, db_url, work / "db-upgrade.out")
        usage = Usage(machine_jiffies(), local_db=db_url.host in LOCAL_HOSTS)
        start = time.perf_counter()
        procs = start_instances(config, db_url, work, count)
        try:
            progress = wait_until_done(db_url, procs, work, len(urls), args.timeout, usage)
            seconds = time.perf_counter() - start
            problems = stop_instances(procs)
        finally:
            kill_all(procs)
    fetched = fetched_by_instance(work, count)
    repeated = sorted(n for n, k in Counter(n for names in fetched for n in names).items() if k > 1)
    shares = [len(names) for names in fetched]
    return Result(count, seconds, usage, shares, repeated, progress, problems)


# --- report ---------------------------------------------------------------------------------


def load_line() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f}, {five:.2f}, {fifteen:.2f}"


def machine_line(load_before: str, pg_version: str) -> str:
    return ", ".join(
        [
            f"{len(os.sched_getaffinity(0))} CPUs (nproc)",
            f"Python {sys.version.split()[0]}",
            f"aggregator {version('aggregator')}",
            f"PostgreSQL {pg_version}",
            nginx_version(),
            f"load average (1, 5, 15 min) {load_before} at the start, {load_line()} at the end",
        ]
    )


def result_row(r: Result, base: Result | None, feeds: int) -> str:
    speedup = f"{base.seconds / r.seconds:.2f}x" if base else "n/a"
    shares = " / ".join(str(n) for n in r.per_instance)
    u = r.usage
    backends = f"{sum(u.backend_cpu.values()):.0f}" if u.local_db else "?"
    return (
        f"| {r.instances} | {r.seconds:.2f} | {feeds / r.seconds:.1f} | {speedup} "
        f"| {u.peak_rss_kb / 1024:.0f} | {shares} | {u.instance_cpu:.0f} | {backends} "
        f"| {u.machine_busy:.0%} | {r.progress.failed} | {r.progress.delivered} |"
    )


def warnings(results: list[Result]) -> list[str]:
    lines = []
    for r in results:
        label = f"WARNING: {r.instances} instance(s):"
        lines += [f"{label} {p}" for p in r.stop_problems]
        if r.repeated:
            names = ", ".join(r.repeated[:10]) + (", ..." if len(r.repeated) > 10 else "")
            lines.append(f"{label} {len(r.repeated)} feeds fetched more than once: {names}")
        if r.progress.failed:
            lines.append(f"{label} {r.progress.failed} feeds failed")
    if not any(r.stop_problems for r in results):
        lines.append(f"Every instance exited 0 within {STOP_SECONDS:.0f} s of SIGTERM.")
    return lines


def report(args: argparse.Namespace, results: list[Result], load_before: str) -> str:
    argv = " ".join(shlex.quote(a) for a in sys.argv[1:])
    base = next((r for r in results if r.instances == 1), None)
    lines = [
        f"Command: `python benchmarks/instances.py {argv}`",
        "",
        f"Machine: {machine_line(load_before, server_version(args.pg_url))}",
        "",
        f"Corpus: {args.feeds} feeds x {args.entries} entries, seed {args.seed}; loopback "
        "nginx; one fresh PostgreSQL database per row; every instance with `concurrency = 64`, "
        "`per_host_concurrency = 64` and a parse pool of "
        f"{os.cpu_count()} worker processes.",
        "",
        "| instances | seconds to poll all feeds | feeds/s | speed-up vs 1 instance "
        "| peak RSS MB (all instances, summed) | feeds per instance | CPU s (instances) "
        "| CPU s (PostgreSQL) | machine CPU busy | failed feeds | alerts delivered |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        *(result_row(r, base, args.feeds) for r in results),
        "",
        *warnings(results),
    ]
    return "\n".join(lines)


# --- orchestration --------------------------------------------------------------------------


def prepare_corpus(args: argparse.Namespace, root: Path, tool: Path) -> tuple[Path, int]:
    port = free_port()
    corpus = root / "corpus"
    print(f"generating {args.feeds} feeds x {args.entries} entries in {corpus} ...")
    gen_corpus(
        tool,
        str(corpus),
        "--feeds",
        str(args.feeds),
        "--entries",
        str(args.entries),
        "--seed",
        str(args.seed),
        "--base-url",
        f"http://127.0.0.1:{port}",
    )
    return corpus, port


def benchmark(args: argparse.Namespace, root: Path) -> str:
    load_before = load_line()
    tool = find_tool(args.corpus_tool)
    root.chmod(0o755)  # nginx workers (user nobody when run as root) must read the corpus
    corpus, port = prepare_corpus(args, root, tool)
    urls = urls_of(corpus)
    results = []
    with served(tool, corpus, port):
        print(f"serving on port {port}")
        for count in args.instances:
            print(f"  {count} instance(s) ...", end="", flush=True)
            result = run_instances(args, urls, root / f"instances-{count}", count)
            shares = " / ".join(str(n) for n in result.per_instance)
            print(f" {result.seconds:.2f} s ({shares})")
            results.append(result)
    return report(args, results, load_before)


def parse_args(argv: list[str]) -> argparse.Namespace:
    doc = __doc__ or ""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=1000, help="feeds in the corpus (1000)")
    parser.add_argument("--entries", type=int, default=40, help="entries per feed (40)")
    parser.add_argument("--seed", type=int, default=7, help="corpus seed (7)")
    parser.add_argument(
        "--instances", type=int, nargs="+", default=[1, 2, 3], help="counts to run (1 2 3)"
    )
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL, help="an existing database's URL")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per run (900)")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="work in DIR and keep it")
    parser.add_argument("--corpus-tool", type=Path, metavar="PATH", help="gen_corpus.py")
    args = parser.parse_args(argv)
    if any(n < 1 for n in args.instances):
        parser.error("--instances: counts must be 1 or more")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    code, root = run_in_workdir(args.keep, lambda root: benchmark(args, root))
    if code == 0 and args.keep:
        print(f"\nkept: {root} (the databases are dropped)")
    return code


if __name__ == "__main__":
    sys.exit(main())
