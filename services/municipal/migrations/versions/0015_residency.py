"""residents: 旧氏, nationality and 通称 (with its own history); name keys recomputed now
that the alphabet folds to one case (a foreign resident's SMITH is found as Smith)

Revision ID: c09e50000015
Revises: c09e50000014
Create Date: 2026-11-29 11:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from municipal.residents.search_keys import recompute_search_keys

revision: str = "c09e50000015"
down_revision: str | None = "c09e50000014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = (
    ("former_surname", 100), ("former_surname_kana", 200), ("nationality", 2),
    ("alias", 100), ("alias_kana", 200),
)  # fmt: skip


def upgrade() -> None:
    with op.batch_alter_table("residents") as batch:
        for name, length in _COLUMNS:
            batch.add_column(sa.Column(name, sa.String(length=length), nullable=True))
    op.create_table(
        "resident_aliases",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("resident_id", sa.String(length=32), nullable=False),
        sa.Column("alias", sa.String(length=100), nullable=False),
        sa.Column("alias_kana", sa.String(length=200), nullable=True),
        sa.Column("recorded_on", sa.Date(), nullable=False),
        sa.Column("municipality", sa.String(length=6), nullable=False),
        sa.Column("deleted_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["resident_id"],
            ["residents.id"],
            name=op.f("fk_resident_aliases_resident_id_residents"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resident_aliases")),
    )
    op.create_index(
        op.f("ix_resident_aliases_resident_id"), "resident_aliases", ["resident_id"], unique=False
    )
    recompute_search_keys(op.get_bind())


def downgrade() -> None:
    op.drop_index(op.f("ix_resident_aliases_resident_id"), table_name="resident_aliases")
    op.drop_table("resident_aliases")
    with op.batch_alter_table("residents") as batch:
        for name, _ in reversed(_COLUMNS):
            batch.drop_column(name)
