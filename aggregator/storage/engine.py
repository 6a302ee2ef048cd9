"""Database engines: URL handling, SQLite pragmas, and the migration entry point.

This module owns how a connection is made (WAL, busy timeout, foreign keys and a 16 MiB
page cache per connection on SQLite;
psycopg 3 on PostgreSQL) and how the schema is brought to the Alembic head. It must not
contain queries.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from aggregator.errors import StorageError
from alembic import command

SQLITE_BUSY_TIMEOUT_MS = 30_000
# SQLite's default page cache is 2 MiB a connection. A first poll of 2,000 feeds then
# spent 12 of its database thread's 37 CPU-seconds in the kernel, re-reading index pages
# (entry keys, band keys, the search index) with pread; 16 MiB cut that to 3 s.
SQLITE_CACHE_KIB = 16 * 1024


def normalize_url(url: str) -> str:
    """Pick psycopg 3 for plain PostgreSQL URLs; SQLAlchemy would default to psycopg2."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for `url`; creates the SQLite file's folder when it is missing."""
    url = normalize_url(url)
    try:
        if is_sqlite(url):
            database = make_url(url).database
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
            event.listen(engine, "connect", _sqlite_pragmas)
            return engine
        return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)
    except (SQLAlchemyError, ImportError, OSError) as exc:
        raise StorageError(f"cannot open database: {exc}") from exc


def migrations_dir() -> Path:
    """The Alembic script folder: packaged with the wheel, or the checkout's `alembic/`."""
    packaged = Path(__file__).resolve().parent.parent / "migrations"
    if (packaged / "env.py").exists():
        return packaged
    return Path(__file__).resolve().parents[2] / "alembic"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.attributes["url"] = normalize_url(url)
    return config


def upgrade_to_head(url: str) -> None:
    """Apply every pending migration; safe to call on every start."""
    try:
        command.upgrade(alembic_config(url), "head")
    except SQLAlchemyError as exc:
        raise StorageError(f"database migration failed: {exc}") from exc
