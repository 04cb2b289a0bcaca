"""copies: the ledgers record whether 本籍・筆頭者 and 前住所 were printed (own-register copies)

Revision ID: c09e50000009
Revises: b05e00000007
Create Date: 2026-11-29 05:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c09e50000009"
down_revision: str | None = "b05e00000007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ("issued_copies", "copy_provisions")
_COLUMNS = ("include_registered_domicile", "include_previous_address")


def upgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in _COLUMNS:
                batch_op.add_column(
                    sa.Column(column, sa.Boolean(), server_default=sa.false(), nullable=False)
                )


def downgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in reversed(_COLUMNS):
                batch_op.drop_column(column)
