"""story clustering, LSH bands and entry tombstones

Stories get the founding entry's text signature and a `merged_into` pointer (a later
entry can show two stories to be one); `story_bands` is the LSH index that finds
candidate stories by band key (WITHOUT ROWID on SQLite: the primary key is the table);
`entry_tombstones` remembers the keys of entries deleted by retention. `matches.entry_id`
gets an index so that deleting entries (ON DELETE SET NULL) does not scan the matches.

On SQLite, adding the self-referencing foreign key recreates `stories` (batch mode);
nothing else refers to it by anything but its name, and the full-text triggers live on
`entries`, which is not touched.

Revision ID: 9b82ee6f3321
Revises: a9f3c2d1e8b7
Create Date: 2026-11-24 07:45:03.058151
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

import aggregator.storage.columns
from alembic import op

revision: str = "9b82ee6f3321"
down_revision: str | None = "a9f3c2d1e8b7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "story_bands",
        sa.Column("band_key", sa.BigInteger(), nullable=False),
        sa.Column("story_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.PrimaryKeyConstraint("band_key", "story_id", name=op.f("pk_story_bands")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "entry_tombstones",
        sa.Column("feed_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("entry_key", sqlmodel.sql.sqltypes.AutoString(length=600), nullable=False),
        sa.Column(
            "pruned_at", aggregator.storage.columns.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["feed_id"],
            ["feeds.id"],
            name=op.f("fk_entry_tombstones_feed_id_feeds"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("feed_id", "entry_key", name=op.f("pk_entry_tombstones")),
    )
    with op.batch_alter_table("matches", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_matches_entry_id"), ["entry_id"], unique=False)

    with op.batch_alter_table("stories", schema=None) as batch_op:
        batch_op.add_column(sa.Column("signature", sa.LargeBinary(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "merged_into", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
            )
        )
        batch_op.create_index(batch_op.f("ix_stories_merged_into"), ["merged_into"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_stories_merged_into_stories"),
            "stories",
            ["merged_into"],
            ["id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    with op.batch_alter_table("stories", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_stories_merged_into_stories"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_stories_merged_into"))
        batch_op.drop_column("merged_into")
        batch_op.drop_column("signature")

    with op.batch_alter_table("matches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_matches_entry_id"))

    op.drop_table("entry_tombstones")
    op.drop_table("story_bands")
