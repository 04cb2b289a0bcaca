"""residents: the 個人番号 the agency generated for each; copies that print it

Revision ID: c09e50000014
Revises: c09e50000013
Create Date: 2026-11-29 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c09e50000014"
down_revision: str | None = "c09e50000013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


_LEDGERS = ("issued_copies", "copy_provisions")  # what each copy printed


def upgrade() -> None:
    for table in _LEDGERS:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("include_individual_number", sa.Boolean(),
                                       server_default=sa.false(), nullable=False))  # fmt: skip
    with op.batch_alter_table("residents") as batch:
        batch.add_column(sa.Column("individual_number", sa.String(length=12), nullable=True))
        batch.create_unique_constraint(
            batch.f("uq_residents_individual_number"), ["individual_number"]
        )


def downgrade() -> None:
    with op.batch_alter_table("residents") as batch:
        batch.drop_constraint(batch.f("uq_residents_individual_number"), type_="unique")
        batch.drop_column("individual_number")
    for table in _LEDGERS:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("include_individual_number")
