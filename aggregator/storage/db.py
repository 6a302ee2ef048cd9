"""The Database handle: an engine plus short transactions that speak StorageError.

Every unit of work is one `with db.transaction() as session:` block, kept short: callers
must not fetch, parse or deliver inside it (no network call while a transaction is open).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from aggregator.errors import StorageError
from aggregator.storage.engine import is_sqlite, make_engine, normalize_url, upgrade_to_head


class Database:
    """One database, opened from a URL; `migrate()` brings it to the Alembic head."""

    def __init__(self, url: str) -> None:
        self.url = normalize_url(url)
        self.engine: Engine = make_engine(self.url)

    @property
    def is_sqlite(self) -> bool:
        return is_sqlite(self.url)

    def migrate(self) -> None:
        upgrade_to_head(self.url)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on any error."""
        session = Session(self.engine, expire_on_commit=False)
        try:
            yield session
            session.commit()
        except SQLAlchemyError as exc:
            session.rollback()
            raise StorageError(f"database error: {exc.__class__.__name__}: {exc}") from exc
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()
