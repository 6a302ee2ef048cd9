"""The console script's entry point: it imports the CLI only when called.

Parse workers are started by multiprocessing's fork server, and each one re-imports the
main script of the process that started it (to find what it pickles by name). A script
that imported `aggregator.cli` at its top made every worker load SQLAlchemy, Alembic,
Jinja and the rest: about 45 MB of memory and half a second of start-up each, for
nothing a worker uses. Must not import anything at module level.
"""

from __future__ import annotations


def main() -> int:
    from aggregator.cli import main as cli_main

    return cli_main()
