"""Validation of a watchlist's terms and query: the watchlist part of settings checking.

Responsible for checking, for one [[watchlists]] table, that every `any`/`all`/`none`
term parses, that the `query` parses (a syntax error is reported with its column:
`watchlists.toml: watchlists[2].query: column 14: unbalanced parenthesis`), and that the
whole watchlist compiles, so that a config that passes `aggregator check` (or a reload)
can never fail to compile in the daemon.

Must not: read files, know other sections of the config, or raise on a bad value (it
records errors on the table, as settings_fields does).
"""

from __future__ import annotations

from aggregator.match.logic import WatchlistSpec, build_expression
from aggregator.match.query import QueryError, Term, parse_query
from aggregator.settings_fields import Table

__all__ = ["watchlist_terms"]


def watchlist_terms(
    table: Table, name: str, query: str | None, terms: dict[str, tuple[str, ...] | None]
) -> WatchlistSpec | None:
    """Check the terms and the query by compiling them; None (errors recorded) if invalid."""
    ok = True
    for key, items in terms.items():
        if items is not None and not items and key != "none":
            table.error(key, "must list at least one term")
            ok = False
        for index, raw in enumerate(items or ()):
            try:
                Term.parse(raw)
            except ValueError as exc:
                table.error(key, str(exc), f"[{index}]")
                ok = False
    if query is not None:
        try:
            parse_query(query)
        except QueryError as exc:
            table.error("query", str(exc))
            ok = False
    if query is None and not terms["any"] and not terms["all"]:
        if "any" not in table and "all" not in table and "query" not in table:
            table.error("any", "missing required key (or give `all` or `query`)")
        return None
    if not ok:
        return None
    spec = WatchlistSpec(name, terms["any"] or (), terms["all"] or (), terms["none"] or (), query)
    try:
        build_expression(spec)
    except ValueError as exc:
        message = str(exc).removeprefix(f"watchlist {name!r} ")
        table.error("query" if query is not None else "none", message)
        return None
    return spec
