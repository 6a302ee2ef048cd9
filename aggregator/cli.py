"""Command-line interface: argument parsing and printed output; thin by design.

Each command loads the settings once, hands them to the daemon, pipeline or storage, and
turns the result into text and an exit code. No business logic lives here.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from datetime import timedelta

from aggregator import __version__
from aggregator.alerts.channels import build_channels
from aggregator.alerts.dispatch import Dispatcher, DispatchReport
from aggregator.alerts.sample import sample_alert
from aggregator.clock import utcnow
from aggregator.daemon import HEARTBEAT, default_instance_id, run_daemon
from aggregator.errors import AggregatorError, ConfigErrors, DeliveryError
from aggregator.feedview import feeds_table, instances_table
from aggregator.gctune import tune_gc
from aggregator.match.logic import WatchlistSpec, build_expression
from aggregator.pipeline import Poller
from aggregator.search import backtest, search
from aggregator.searchview import backtest_text, hits_text, since_text
from aggregator.settings import Settings, load_settings, parse_duration, resolve_config_dir
from aggregator.storage import feeds as feed_store
from aggregator.storage import instances, outbox, retention
from aggregator.storage.db import Database
from aggregator.storage.storyinfo import story_detail
from aggregator.storyview import prune_text, story_text
from aggregator.types import Alert, PollSummary
from aggregator.watch import watchlist_spec

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aggregator", description="Feed alerting daemon.")
    parser.add_argument("--version", action="version", version=f"aggregator {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        metavar="DIR",
        help="config directory (default: $AGGREGATOR_CONFIG, else ./config)",
    )
    common.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    poll = sub.add_parser("poll", parents=[common], help="poll every (or the named) feed once")
    poll.add_argument("--feed", action="append", metavar="NAME", help="only this feed")
    poll.add_argument(
        "--deliver-timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="how long to wait for pending alerts to be delivered (default 30)",
    )
    sub.add_parser("run", parents=[common], help="run the daemon")
    test = sub.add_parser("send-test", parents=[common], help="send a sample alert")
    test.add_argument("channel", metavar="CHANNEL", help="channel name from aggregator.toml")
    sub.add_parser("check", parents=[common], help="validate the config")
    sub.add_parser("feeds", parents=[common], help="show feeds and their state")
    sub.add_parser("instances", parents=[common], help="show the instances sharing the database")
    db = sub.add_parser("db", parents=[common], help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_sub.add_parser("upgrade", parents=[common], help="apply migrations")
    prune = db_sub.add_parser(
        "prune", parents=[common], help="delete old entries and stories (keeps tombstones)"
    )
    prune.add_argument(
        "--older-than", metavar="DURATION", help="e.g. 90d (default: [retention] max_age)"
    )
    stories = sub.add_parser("stories", parents=[common], help="look at stored stories")
    stories_sub = stories.add_subparsers(dest="stories_command", required=True, metavar="ACTION")
    show = stories_sub.add_parser("show", parents=[common], help="a story, its sources, alerts")
    show.add_argument("id", type=int, metavar="ID", help="story id (as in alerts)")
    watch = sub.add_parser("watchlists", parents=[common], help="try watchlists on history")
    watch_sub = watch.add_subparsers(dest="watch_command", required=True, metavar="ACTION")
    backtest = watch_sub.add_parser(
        "test", parents=[common], help="what a watchlist would have alerted on (sends nothing)"
    )
    backtest.add_argument("name", nargs="?", metavar="NAME", help="a watchlist from the config")
    backtest.add_argument("--query", metavar="QUERY", help="an ad-hoc query instead of NAME")
    backtest.add_argument("--since", default="30d", metavar="DURATION", help="default 30d")
    backtest.add_argument("--sample", type=int, default=10, metavar="N", help="default 10")
    search = sub.add_parser("search", parents=[common], help="search stored entries")
    search.add_argument("query", metavar="QUERY", help="the watchlist query language")
    search.add_argument("--since", metavar="DURATION", help="e.g. 7d (default: everything)")
    search.add_argument("--limit", type=int, default=20, metavar="N", help="default 20")
    return parser


def _setup_logging(settings_level: str, verbose: bool) -> None:
    level = logging.DEBUG if verbose else getattr(logging, settings_level.upper(), logging.INFO)
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for noisy in ("httpx", "httpcore", "alembic.runtime.migration"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


def _load(args: argparse.Namespace) -> Settings:
    return load_settings(resolve_config_dir(args.config, os.environ), os.environ)


def _open_db(settings: Settings) -> Database:
    db = Database(settings.storage.url)
    db.migrate()
    return db


def _print_summary(summary: PollSummary) -> None:
    print(
        f"{len(summary.outcomes)} feeds: {summary.count('fetched')} fetched, "
        f"{summary.count('not_modified')} not modified, {summary.count('failed')} failed; "
        f"{summary.new_entries} new entries, {summary.updated_entries} updated"
    )
    for failure in summary.failures:
        print(f"  FAILED {failure.name}: {failure.error}")


def cmd_poll(args: argparse.Namespace, settings: Settings) -> int:
    known = {f.name for f in settings.feeds}
    unknown = [n for n in args.feed or [] if n not in known]
    if unknown:
        print(f"unknown feed(s): {', '.join(unknown)}", file=sys.stderr)
        return EXIT_USAGE
    db = _open_db(settings)
    poller = Poller(settings, db)
    tune_gc()
    try:
        poller.reconcile()
        summary, report = asyncio.run(_poll_and_deliver(poller, args.feed, args.deliver_timeout))
        with db.transaction() as session:
            pending = outbox.count_by_status(session).get(outbox.PENDING, 0)
    finally:
        poller.close()
        db.dispose()
    _print_summary(summary)
    print(
        f"alerts: {summary.matches} new matches; {report.delivered} deliveries sent, "
        f"{report.retried} to retry, {report.failed} failed; {pending} pending"
    )
    return EXIT_OK


async def _poll_and_deliver(
    poller: Poller, names: list[str] | None, deliver_timeout: float
) -> tuple[PollSummary, DispatchReport]:
    summary = await poller.poll(poller.active(names))
    settings = poller.settings
    channels = build_channels(settings.channels, settings.http.allow_private_networks)
    dispatcher = Dispatcher(poller.db, channels, settings.alerts.max_age, default_instance_id())
    try:
        deadline = asyncio.get_running_loop().time() + deliver_timeout
        report = await dispatcher.drain(deadline)
    finally:
        for channel in channels.values():
            await channel.aclose()
    return summary, report


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    tune_gc()
    return asyncio.run(run_daemon(settings))


def cmd_send_test(args: argparse.Namespace, settings: Settings) -> int:
    if args.channel not in {c.name for c in settings.channels}:
        print(f"unknown channel: {args.channel}", file=sys.stderr)
        return EXIT_USAGE
    alert = sample_alert(args.channel)
    try:
        asyncio.run(_send_one(settings, alert))
    except DeliveryError as exc:
        print(f"NOT delivered to {args.channel}: {exc}")
        return EXIT_ERROR
    print(f"delivered a test alert to {args.channel} (delivery id {alert.delivery_id})")
    return EXIT_OK


async def _send_one(settings: Settings, alert: Alert) -> None:
    channels = build_channels(settings.channels, settings.http.allow_private_networks)
    try:
        await channels[alert.channel].send(alert)
    finally:
        for channel in channels.values():
            await channel.aclose()


def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    print(
        f"config OK: {len(settings.feeds)} feeds, {len(settings.watchlists)} watchlists, "
        f"{len(settings.channels)} channels"
    )
    return EXIT_OK


def cmd_feeds(args: argparse.Namespace, settings: Settings) -> int:
    db = _open_db(settings)
    try:
        with db.transaction() as session:
            rows = feed_store.feed_rows(session)
    finally:
        db.dispose()
    print(feeds_table(rows, utcnow(), settings.polling.flag_failing_after))
    return EXIT_OK


def cmd_instances(args: argparse.Namespace, settings: Settings) -> int:
    db = _open_db(settings)
    try:
        with db.transaction() as session:
            rows = instances.instance_rows(session)
    finally:
        db.dispose()
    print(instances_table(rows, utcnow(), HEARTBEAT))
    return EXIT_OK


def cmd_db(args: argparse.Namespace, settings: Settings) -> int:
    if args.db_command == "prune":
        return _prune(args, settings)
    _open_db(settings).dispose()
    print("database is at the latest schema")
    return EXIT_OK


def _prune(args: argparse.Namespace, settings: Settings) -> int:
    try:
        older_than = settings.retention.max_age
        if args.older_than is not None:
            older_than = parse_duration(args.older_than)
    except ValueError as exc:
        print(f"error: --older-than: {exc}", file=sys.stderr)
        return EXIT_USAGE
    db = _open_db(settings)
    try:
        report = retention.prune_by_settings(db, settings, utcnow(), older_than)
    finally:
        db.dispose()
    print(prune_text(report, older_than))
    return EXIT_OK


def cmd_stories(args: argparse.Namespace, settings: Settings) -> int:
    db = _open_db(settings)
    try:
        with db.transaction() as session:
            detail = story_detail(session, args.id)
    finally:
        db.dispose()
    if detail is None:
        print(f"no story {args.id}", file=sys.stderr)
        return EXIT_ERROR
    print(story_text(detail))
    return EXIT_OK


def _checked(spec: WatchlistSpec, since: str | None) -> timedelta | None:
    """The --since duration; ValueError (shown as a usage error) if it or the query is bad."""
    build_expression(spec)
    return None if since is None else parse_duration(since)


def cmd_watchlists(args: argparse.Namespace, settings: Settings) -> int:
    if (args.name is None) == (args.query is None):
        print("give a watchlist NAME or --query '...', not both", file=sys.stderr)
        return EXIT_USAGE
    feeds = None
    if args.query is not None:
        title, spec = "query", WatchlistSpec("query", query=args.query)
    else:
        found = [w for w in settings.watchlists if w.name == args.name]
        if not found:
            print(f"unknown watchlist: {args.name}", file=sys.stderr)
            return EXIT_USAGE
        title, spec = f"watchlist {args.name!r}", watchlist_spec(found[0])
        if found[0].tags:
            feeds = [f.name for f in settings.feeds if set(f.tags) & set(found[0].tags)]
    try:
        since, now = _checked(spec, args.since), utcnow()
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    db = _open_db(settings)
    try:
        report = backtest(db, spec, since=since, now=now, feeds=feeds, sample=args.sample)
    finally:
        db.dispose()
    print(backtest_text(title, report, since_text(since, now)))
    return EXIT_OK


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    try:
        since, now = _checked(WatchlistSpec("search", query=args.query), args.since), utcnow()
    except ValueError as exc:
        print(f"error: query: {exc}" if "column" in str(exc) else f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    db = _open_db(settings)
    try:
        found = search(db, args.query, since=since, now=now, limit=args.limit)
    finally:
        db.dispose()
    if found:
        print(hits_text(found))
    print(f"{len(found)} entries ({since_text(since, now)}, newest first)")
    return EXIT_OK


COMMANDS = {
    "poll": cmd_poll,
    "run": cmd_run,
    "send-test": cmd_send_test,
    "check": cmd_check,
    "feeds": cmd_feeds,
    "instances": cmd_instances,
    "db": cmd_db,
    "stories": cmd_stories,
    "watchlists": cmd_watchlists,
    "search": cmd_search,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = _load(args)
    except ConfigErrors as exc:
        for error in exc.errors:
            print(f"config error: {error}", file=sys.stderr)
        return EXIT_ERROR
    _setup_logging(settings.log_level, args.verbose)
    try:
        return COMMANDS[args.command](args, settings)
    except AggregatorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
