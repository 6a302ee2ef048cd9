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
    session: Session, table: Table, values: dict[str, Any] | list[dict[str, Any]]
) -> Any:
    """An insert of one row (or many) that does nothing where a unique key already exists."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table).values(values).on_conflict_do_nothing()
    return sqlite.insert(table).values(values).on_conflict_do_nothing()
