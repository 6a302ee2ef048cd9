"""Alembic environment: finds the URL, serialises concurrent upgrades, runs migrations.

The URL comes from, in order: the caller (`aggregator db upgrade` passes it in
config.attributes), `-x url=...`, or aggregator's settings from the config directory.
SQLite migrations run in batch mode so that later ALTERs work there too. Autogenerate
leaves out the full-text search table and index, which a hand-written migration makes.
"""

import os
from pathlib import Path

from sqlalchemy import text

from aggregator.storage import models
from aggregator.storage.engine import make_engine, normalize_url
from aggregator.storage.search import is_search_index
from alembic import context

# An arbitrary constant: the key of the advisory lock that lets several instances start at once.
PG_MIGRATION_LOCK = 7_311_004_211


def _url() -> str:
    config = context.config
    if "url" in config.attributes:
        return str(config.attributes["url"])
    x_args = context.get_x_argument(as_dictionary=True)
    if "url" in x_args:
        return normalize_url(x_args["url"])
    from aggregator.settings import load_settings, resolve_config_dir

    config_dir = resolve_config_dir(None, os.environ)
    return load_settings(Path(config_dir), os.environ).storage.url


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Autogenerate compares everything but the hand-made full-text search objects."""
    return not is_search_index(name, type_)


def run_migrations() -> None:
    engine = make_engine(_url())
    with engine.connect() as connection:
        is_pg = connection.dialect.name == "postgresql"
        if connection.dialect.name == "sqlite":
            # Batch mode recreates tables; foreign key checks would fire on the copy.
            connection.execute(text("PRAGMA foreign_keys=OFF"))
            connection.commit()
        if is_pg:
            connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": PG_MIGRATION_LOCK})
            connection.commit()
        try:
            context.configure(
                connection=connection,
                target_metadata=models.metadata,
                render_as_batch=True,
                compare_type=True,
                include_name=include_name,
            )
            with context.begin_transaction():
                context.run_migrations()
        finally:
            if is_pg:
                connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": PG_MIGRATION_LOCK})
                connection.commit()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run against a database")
run_migrations()
