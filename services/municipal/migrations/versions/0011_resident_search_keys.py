"""residents: the name and reading as a search compares them (name_key, kana_key)

Revision ID: c09e50000011
Revises: c09e50000010
Create Date: 2026-11-29 05:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from municipal.residents.search_keys import recompute_search_keys

revision: str = "c09e50000011"
down_revision: str | None = "c09e50000010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("residents", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("name_key", sa.String(length=100), server_default="", nullable=False)
        )
        batch_op.add_column(sa.Column("kana_key", sa.String(length=200), nullable=True))
    _backfill()
    with op.batch_alter_table("residents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_residents_name_key"), ["name_key"], unique=False)
        batch_op.create_index(batch_op.f("ix_residents_kana_key"), ["kana_key"], unique=False)


def _backfill() -> None:
    """Every existing resident's keys, in batches (the keys are computed in Python)."""
    recompute_search_keys(op.get_bind())


def downgrade() -> None:
    with op.batch_alter_table("residents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_residents_kana_key"))
        batch_op.drop_index(batch_op.f("ix_residents_name_key"))
        batch_op.drop_column("kana_key")
        batch_op.drop_column("name_key")
