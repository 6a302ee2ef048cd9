"""INSERT ... ON CONFLICT DO NOTHING for the two supported backends.

Unique constraints, not luck, make concurrent inserts of the same story or match harmless:
the loser's insert simply does nothing. This module only builds statements.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session


def insert_ignoring_conflicts(
    session: Session, table: Table, values: dict[str, Any] | None = None
) -> Any:
    """An insert that does nothing where a unique key already exists.

    Without `values`, execute it with a list of parameter dicts: an executemany whose
    compiled form is cached, unlike a multi-row VALUES built anew for every batch.
    """
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table)
    if values is not None:
        stmt = stmt.values(values)
    return stmt.on_conflict_do_nothing()
