"""full-text search over entries (SQLite FTS5 table, PostgreSQL GIN index)

Hand-written: autogenerate knows neither, and alembic/env.py leaves both out of its
comparison (aggregator.storage.search.is_search_index).

SQLite: `entries_fts`, an external-content FTS5 table over entries (it stores only the
index; the text stays in entries), kept in sync by three triggers. Categories are
indexed as their decoded values, not as JSON. A later migration that rebuilds `entries`
in batch mode drops these triggers with the old table and must create them again.

PostgreSQL: `ix_entries_fts`, a GIN index on to_tsvector('simple', ...) of the same
fields; aggregator/storage/search.py queries with the identical expression.

Revision ID: a9f3c2d1e8b7
Revises: 635abc155cc7
Create Date: 2026-11-24 09:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "a9f3c2d1e8b7"
down_revision: str | None = "635abc155cc7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = "title, summary, content, author, categories"


def _values(row: str) -> str:
    categories = f"(SELECT group_concat(value, ' ') FROM json_each({row}.categories))"
    return f"{row}.title, {row}.summary, {row}.content, {row}.author, {categories}"


_SQLITE_UP = [
    f"""CREATE VIRTUAL TABLE entries_fts USING fts5(
        {_COLUMNS}, content='entries', content_rowid='id',
        tokenize='unicode61 remove_diacritics 2')""",
    f"""CREATE TRIGGER entries_fts_insert AFTER INSERT ON entries BEGIN
        INSERT INTO entries_fts(rowid, {_COLUMNS}) VALUES (new.id, {_values("new")});
    END""",
    f"""CREATE TRIGGER entries_fts_delete AFTER DELETE ON entries BEGIN
        INSERT INTO entries_fts(entries_fts, rowid, {_COLUMNS})
        VALUES ('delete', old.id, {_values("old")});
    END""",
    f"""CREATE TRIGGER entries_fts_update AFTER UPDATE OF {_COLUMNS} ON entries BEGIN
        INSERT INTO entries_fts(entries_fts, rowid, {_COLUMNS})
        VALUES ('delete', old.id, {_values("old")});
        INSERT INTO entries_fts(rowid, {_COLUMNS}) VALUES (new.id, {_values("new")});
    END""",
    f"""INSERT INTO entries_fts(rowid, {_COLUMNS})
        SELECT entries.id, {_values("entries")} FROM entries""",
]
_SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS entries_fts_update",
    "DROP TRIGGER IF EXISTS entries_fts_delete",
    "DROP TRIGGER IF EXISTS entries_fts_insert",
    "DROP TABLE IF EXISTS entries_fts",
]
_PG_DOCUMENT = (
    "entries.title || ' ' || entries.summary || ' ' || entries.content || ' ' || "
    "entries.author || ' ' || (entries.categories::jsonb)::text"
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in _SQLITE_UP:
            op.execute(statement)
    else:
        op.execute(
            f"CREATE INDEX ix_entries_fts ON entries "
            f"USING gin (to_tsvector('simple', {_PG_DOCUMENT}))"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in _SQLITE_DOWN:
            op.execute(statement)
    else:
        op.execute("DROP INDEX IF EXISTS ix_entries_fts")
