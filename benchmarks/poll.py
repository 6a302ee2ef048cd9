#!/usr/bin/env python3
"""Time `aggregator poll` (and reader, when installed) over a synthetic corpus on loopback.

Generates a corpus with ../shared/bench/gen_corpus.py, serves it with nginx
(../shared/bench/serve.sh), and measures three polls: the first (every entry new), one with
nothing changed (every feed answers 304), and one after 10% of the feeds gained entries
(`gen_corpus.py DIR --advance 0.1`). Each poll runs in a subprocess; the script reports its
wall time, its peak RSS and the new entries it stored.

With `reader` (lemon24/reader) importable and no --no-reader, the same three cases run in
the same run for reader's `update_feeds(workers=8, scheduled=False)`, on a copy of the same
corpus served by a second nginx, and the script prints the ratios reader/aggregator next to
the targets of issue 4. The output is markdown, ready for benchmarks/README.md.

  python benchmarks/poll.py --feeds 2000 [--entries 40] [--keep DIR] [--no-reader]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import resource
import shlex
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from importlib import metadata
from importlib.util import find_spec
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parent.parent
DEFAULT_TOOL = REPO.parent / "shared" / "bench" / "gen_corpus.py"
TERMS = ["Yarmouk", "Damascus", "Aleppo", "UNRWA", "Red Crescent"]  # as truth.json names them
# The corpus also spells Yarmouk "Yarmūk", which folds to "Yarmuk", not "Yarmouk".
WATCHLIST = [*TERMS, "Yarmuk"]
CASES = ("first poll (all new)", "unchanged (all 304)", "10% changed")
TARGETS = (4.0, 5.0, 4.0)  # reader/aggregator speed-ups required by issue 4
RSS_LIMIT_MB = 300.0
READER_WORKERS = 8
SUMMARY_RE = re.compile(
    r"^(?P<feeds>\d+) feeds: .*?(?P<failed>\d+) failed; (?P<new>\d+) new entries", re.M
)


@dataclass(frozen=True)
class Run:
    """One measured poll: wall time, memory, and what it reported."""

    seconds: float
    rss_mb: float  # ru_maxrss from wait4: the largest single process of the tree
    tree_mb: float  # peak of the sampled sum of VmRSS over the process and its descendants
    pss_mb: float  # the same for Pss: shared pages divided among the processes sharing them
    output: Path
    new_entries: int | None = None
    failed: int | None = None
    inner_seconds: float | None = None  # reader: update_feeds() alone, timed in the child


@dataclass(frozen=True)
class Side:
    """One client's corpus, server and working files."""

    name: str
    corpus: Path
    work: Path
    port: int


class BenchError(Exception):
    """A failure that ends the benchmark with a message rather than a traceback."""


# --- corpus and server ----------------------------------------------------------------------


def find_tool(option: Path | None) -> Path:
    tool = (option or DEFAULT_TOOL).resolve()
    if not tool.is_file():
        raise BenchError(
            f"corpus generator not found: {tool}\n"
            "  pass --corpus-tool PATH/TO/gen_corpus.py (serve.sh must sit beside it)"
        )
    if not (tool.parent / "serve.sh").is_file():
        raise BenchError(f"serve.sh not found beside {tool}")
    return tool


def nginx_env() -> dict[str, str]:
    """The environment for serve.sh, with the sbin directories nginx lives in on PATH."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([env.get("PATH", ""), "/usr/sbin", "/sbin"])
    if shutil.which("nginx", path=env["PATH"]) is None:
        raise BenchError("nginx not found: install the Debian package nginx-light or nginx")
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def gen_corpus(tool: Path, *args: str) -> None:
    cmd = [sys.executable, str(tool), *args]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BenchError(f"{shlex.join(cmd)} failed:\n{done.stderr}")


def copy_corpus(src: Path, dst: Path, port_from: int, port_to: int) -> None:
    """The same corpus byte for byte (and mtime for mtime), its URLs on another port."""
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("nginx.*"))
    for name in ("urls.txt", "feeds.opml"):
        path = dst / name
        old, new = f"127.0.0.1:{port_from}/", f"127.0.0.1:{port_to}/"
        path.write_text(path.read_text().replace(old, new))


@contextlib.contextmanager
def served(tool: Path, corpus: Path, port: int) -> Iterator[int]:
    """Serve corpus with serve.sh on 127.0.0.1:port; stop nginx on the way out."""
    cmd = ["bash", str(tool.parent / "serve.sh"), str(corpus), str(port)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=nginx_env(), check=False)
    pid_file = corpus / "nginx.pid"
    try:
        if done.returncode != 0:
            raise BenchError(f"{shlex.join(cmd)} failed:\n{done.stderr}{done.stdout}")
        wait_for_port(port)
        yield int(pid_file.read_text().split()[0])
    finally:
        stop_nginx(pid_file)


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        time.sleep(0.1)
    raise BenchError(f"nginx did not answer on 127.0.0.1:{port}")


def stop_nginx(pid_file: Path) -> None:
    try:
        pid = int(pid_file.read_text().split()[0])
        os.kill(pid, signal.SIGTERM)
    except (OSError, ValueError, IndexError):
        return
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except OSError:
            return
        time.sleep(0.05)


def urls_of(corpus: Path) -> list[str]:
    return [line.strip() for line in (corpus / "urls.txt").read_text().splitlines() if line]


# --- measuring a subprocess -----------------------------------------------------------------


def descendants(pid: int) -> list[int]:
    """pid and every process below it, from /proc/PID/task/TID/children."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for children in Path(f"/proc/{current}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                todo.extend(int(c) for c in children.read_text().split())
    return found


def proc_kb(path: str, key: str) -> int:
    """A `Key:   123 kB` figure from a /proc file, 0 when the process is gone."""
    with contextlib.suppress(OSError):
        for line in Path(path).read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1])
    return 0


def tree_memory_kb(pid: int) -> tuple[int, int]:
    """Summed RSS and summed PSS of pid and its descendants, in KiB."""
    pids = descendants(pid)
    rss = sum(proc_kb(f"/proc/{p}/status", "VmRSS:") for p in pids)
    pss = sum(proc_kb(f"/proc/{p}/smaps_rollup", "Pss:") for p in pids)
    return rss, pss


def measure(cmd: list[str], output: Path) -> Run:
    """Run cmd with stdout and stderr to output; time it and sample its memory."""
    with output.open("w") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        try:
            status, usage, (rss_peak, pss_peak) = wait_sampling(proc.pid)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        tail = "\n".join(output.read_text().splitlines()[-20:])
        raise BenchError(f"{shlex.join(cmd)} exited {proc.returncode}; see {output}:\n{tail}")
    return Run(seconds, usage.ru_maxrss / 1024, rss_peak / 1024, pss_peak / 1024, output)


def wait_sampling(
    pid: int, interval: float = 0.1
) -> tuple[int, resource.struct_rusage, tuple[int, int]]:
    """Reap pid with wait4 (its rusage), sampling the tree's summed RSS and PSS until then."""
    rss_peak = pss_peak = 0
    while True:
        reaped, status, usage = os.wait4(pid, os.WNOHANG)
        if reaped == pid:
            return status, usage, (rss_peak, pss_peak)
        rss, pss = tree_memory_kb(pid)
        rss_peak, pss_peak = max(rss_peak, rss), max(pss_peak, pss)
        time.sleep(interval)


# --- aggregator -----------------------------------------------------------------------------


def aggregator_cmd() -> list[str]:
    script = Path(sys.executable).parent / "aggregator"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "aggregator"]


def toml_list(items: list[str]) -> str:
    return "[" + ", ".join(json.dumps(i) for i in items) + "]"


def write_config(config: Path, urls: list[str], db: Path) -> None:
    config.mkdir(parents=True, exist_ok=True)
    (config / "aggregator.toml").write_text(
        f'[storage]\nurl = "sqlite:///{db}"\n\n'
        "[polling]\nconcurrency = 64\n\n"
        "[http]\nallow_private_networks = true\n\n"
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


def run_aggregator(side: Side, case: int) -> Run:
    config = side.work / "config"
    if case == 0:
        write_config(config, urls_of(side.corpus), side.work / "aggregator.db")
    cmd = [*aggregator_cmd(), "poll", "--config", str(config)]
    run = measure(cmd, side.work / f"poll-{case + 1}.out")
    match = SUMMARY_RE.search(run.output.read_text())
    if match is None:
        raise BenchError(f"no summary line in {run.output}")
    return replace(run, new_entries=int(match["new"]), failed=int(match["failed"]))


# --- reader ---------------------------------------------------------------------------------


def reader_missing() -> str | None:
    """Why reader cannot run here, or None when it can."""
    if find_spec("reader") is None:
        return "reader is not installed"
    if find_spec("sgmllib") is None:  # reader 3.26's vendored feedparser imports it
        return "reader needs sgmllib3k, which is not installed"
    return None


def entry_total(db: str) -> int:
    """Entries in reader's database, by SQL: get_entry_counts() takes a second at 80k."""
    if not Path(db).exists():
        return 0
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM entries").fetchone()[0])


def reader_worker(db: str, urls_file: str) -> int:
    """The subprocess side: add every feed (if new), update all, print counts as JSON."""
    from reader import make_reader

    before = entry_total(db)
    rd = make_reader(db)
    if rd.get_feed_counts().total == 0:  # the first case adds the feeds, as a user would once
        for line in Path(urls_file).read_text().splitlines():
            rd.add_feed(line.strip())
    start = time.perf_counter()
    rd.update_feeds(workers=READER_WORKERS, scheduled=False)
    seconds = time.perf_counter() - start
    failed = rd.get_feed_counts(broken=True).total or 0
    rd.close()
    counts = {"new": entry_total(db) - before, "failed": failed, "update_seconds": seconds}
    print(json.dumps(counts))
    return 0


def run_reader(side: Side, case: int) -> Run:
    db = side.work / "reader.sqlite"
    me = str(Path(__file__).resolve())
    cmd = [sys.executable, me, "--reader-worker", str(db), str(side.corpus / "urls.txt")]
    run = measure(cmd, side.work / f"reader-{case + 1}.out")
    lines = [ln for ln in run.output.read_text().splitlines() if ln.startswith("{")]
    if not lines:
        raise BenchError(f"no result line in {run.output}")
    counts = json.loads(lines[-1])
    return replace(
        run,
        new_entries=int(counts["new"]),
        failed=int(counts["failed"]),
        inner_seconds=float(counts["update_seconds"]),
    )


# --- report ---------------------------------------------------------------------------------


def version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def nginx_version() -> str:
    nginx = shutil.which("nginx", path=nginx_env()["PATH"]) or "nginx"
    done = subprocess.run([nginx, "-v"], capture_output=True, text=True, check=False)
    return done.stderr.strip().removeprefix("nginx version: ")


def machine_line(with_reader: bool) -> str:
    parts = [
        f"{len(os.sched_getaffinity(0))} CPUs (nproc)",
        f"{platform.system()} {platform.machine()}",
        f"Python {platform.python_version()}",
        f"aggregator {version('aggregator')}",
        nginx_version(),
        f"load average {os.getloadavg()[0]:.2f} at the end",
    ]
    if with_reader:
        parts.insert(4, f"reader {version('reader')}")
    return ", ".join(parts)


def fmt_count(value: int | None) -> str:
    return "?" if value is None else str(value)


def run_rows(client: str, runs: list[Run]) -> list[str]:
    return [
        f"| {client} | {case} | {r.seconds:.2f} | {r.rss_mb:.0f} | {r.tree_mb:.0f} "
        f"| {r.pss_mb:.0f} | {fmt_count(r.new_entries)} | {fmt_count(r.failed)} |"
        for case, r in zip(CASES, runs, strict=True)
    ]


def ratio_rows(agg: list[Run], rdr: list[Run]) -> list[str]:
    rows = []
    for case, a, r, target in zip(CASES, agg, rdr, TARGETS, strict=True):
        ratio = r.seconds / a.seconds
        met = "yes" if ratio >= target else "no"
        rows.append(
            f"| {case} | {a.seconds:.2f} | {r.seconds:.2f} | {ratio:.2f}x | {target:.0f}x | {met} |"
        )
    return rows


def report(args: argparse.Namespace, agg: list[Run], rdr: list[Run] | None) -> str:
    argv = " ".join(shlex.quote(a) for a in sys.argv[1:])
    peak, pss = max(r.tree_mb for r in agg), max(r.pss_mb for r in agg)
    lines = [
        f"Command: `python benchmarks/poll.py {argv}`",
        "",
        f"Machine: {machine_line(rdr is not None)}",
        "",
        f"Corpus: {args.feeds} feeds x {args.entries} entries, seed {args.seed}, "
        f"`--advance {args.advance}` before the third poll; loopback nginx.",
        "",
        "| client | case | seconds | peak RSS MB (largest process) | peak RSS MB "
        "(process tree, summed) | peak PSS MB (process tree, summed) | new entries "
        "| failed feeds |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
        *run_rows("aggregator poll", agg),
    ]
    if rdr is not None:
        lines += run_rows(f"reader update_feeds(workers={READER_WORKERS})", rdr)
        lines += [
            "",
            "| case | aggregator s | reader s | reader/aggregator | target | met |",
            "| --- | --- | --- | --- | --- | --- |",
            *ratio_rows(agg, rdr),
        ]
        inner = ", ".join(f"{r.inner_seconds:.2f}" for r in rdr if r.inner_seconds is not None)
        lines += ["", f"reader's update_feeds() call alone, timed inside its process: {inner} s."]
    failed = sum(r.failed or 0 for r in [*agg, *(rdr or [])])
    if failed:
        lines += ["", f"WARNING: {failed} feed polls failed; the figures are not comparable."]
    verdict = "under" if peak < RSS_LIMIT_MB else "OVER"
    lines += [
        "",
        f"aggregator peak RSS (process tree, summed): {peak:.0f} MB, {verdict} "
        f"{RSS_LIMIT_MB:.0f} MB (summed PSS, shared pages counted once: {pss:.0f} MB).",
    ]
    return "\n".join(lines)


# --- orchestration --------------------------------------------------------------------------


def prepare(args: argparse.Namespace, root: Path, tool: Path, with_reader: bool) -> list[Side]:
    """Generate the corpus once; copy it for reader so both start from identical data."""
    port = free_port()
    agg = Side("aggregator", root / "corpus-aggregator", root / "aggregator", port)
    print(f"generating {args.feeds} feeds x {args.entries} entries in {agg.corpus} ...")
    gen_corpus(
        tool,
        str(agg.corpus),
        "--feeds",
        str(args.feeds),
        "--entries",
        str(args.entries),
        "--seed",
        str(args.seed),
        "--base-url",
        f"http://127.0.0.1:{port}",
    )
    sides = [agg]
    if with_reader:
        port2 = free_port()
        rdr = Side("reader", root / "corpus-reader", root / "reader", port2)
        copy_corpus(agg.corpus, rdr.corpus, port, port2)
        sides.append(rdr)
    for side in sides:
        side.work.mkdir(parents=True, exist_ok=True)
    return sides


def run_cases(tool: Path, sides: list[Side], advance: float) -> dict[str, list[Run]]:
    results: dict[str, list[Run]] = {s.name: [] for s in sides}
    runners = {"aggregator": run_aggregator, "reader": run_reader}
    for case, label in enumerate(CASES):
        if case == 2:
            for side in sides:
                gen_corpus(tool, str(side.corpus), "--advance", str(advance))
        for side in sides:
            print(f"  {side.name}: {label} ...", end="", flush=True)
            run = runners[side.name](side, case)
            print(f" {run.seconds:.2f} s, {fmt_count(run.new_entries)} new")
            results[side.name].append(run)
    return results


def benchmark(args: argparse.Namespace, root: Path) -> str:
    tool = find_tool(args.corpus_tool)
    missing = None if args.no_reader else reader_missing()
    with_reader = not args.no_reader and missing is None
    if missing:
        print(f"{missing} (pip install -e '.[bench]'): aggregator only")
    root.chmod(0o755)  # nginx workers (user nobody when run as root) must read the corpus
    sides = prepare(args, root, tool, with_reader)
    with contextlib.ExitStack() as stack:
        for side in sides:
            stack.enter_context(served(tool, side.corpus, side.port))
        print(f"serving on ports {', '.join(str(s.port) for s in sides)}; polling ...")
        results = run_cases(tool, sides, args.advance)
    return report(args, results["aggregator"], results.get("reader"))


def parse_args(argv: list[str]) -> argparse.Namespace:
    doc = __doc__ or ""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=2000, help="feeds in the corpus (2000)")
    parser.add_argument("--entries", type=int, default=40, help="entries per feed (40)")
    parser.add_argument("--seed", type=int, default=7, help="corpus seed (7)")
    parser.add_argument("--advance", type=float, default=0.1, help="fraction changed (0.1)")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="work in DIR and keep it")
    parser.add_argument("--no-reader", action="store_true", help="skip reader")
    parser.add_argument("--corpus-tool", type=Path, metavar="PATH", help="gen_corpus.py")
    parser.add_argument("--reader-worker", nargs=2, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def check_alerts_command(root: Path) -> str:
    db = root / "aggregator" / "aggregator.db"
    args = [str(root / "corpus-aggregator"), f"sqlite:///{db}", "--terms", *TERMS]
    return "  python benchmarks/check_alerts.py " + shlex.join(args)


def on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # so that nginx is stopped by the finally clauses


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.reader_worker:
        return reader_worker(*args.reader_worker)
    code, root = run_in_workdir(args.keep, lambda root: benchmark(args, root))
    if code == 0 and args.keep:
        print(f"\nkept: {root}; to check the alerts against the corpus's truth:")
        print(check_alerts_command(root))
    return code


def run_in_workdir(keep: Path | None, work: Callable[[Path], str]) -> tuple[int, Path]:
    """Run `work` in `keep` (must be empty or absent) or a temporary directory removed
    afterwards; print the table it returns; an exit code for errors and Ctrl-C."""
    signal.signal(signal.SIGTERM, on_sigterm)
    if keep and keep.exists() and any(keep.iterdir()):
        print(f"--keep {keep}: the directory must be empty or absent", file=sys.stderr)
        return 2, keep
    root = keep.resolve() if keep else Path(tempfile.mkdtemp(prefix="aggbench-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        table = work(root)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1, root
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130, root
    finally:
        if keep is None:
            shutil.rmtree(root, ignore_errors=True)
    print()
    print(table)
    return 0, root


if __name__ == "__main__":
    sys.exit(main())
