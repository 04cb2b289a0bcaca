"""個人番号: the numbers the agency generated, never issued twice

Revision ID: c4a9e5000009
Revises: c4a9e5000008
Create Date: 2026-11-29 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import jukinet.db.engine

revision: str = "c4a9e5000009"
down_revision: str | None = "c4a9e5000008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UTC = jukinet.db.engine.UtcDateTime(timezone=True)
_ASSIGNED = sa.text("status = 'assigned'")


def upgrade() -> None:
    op.create_table(
        "individual_numbers",
        sa.Column("number", sa.String(length=12), nullable=False),
        sa.Column("resident_code", sa.String(length=11), nullable=False),
        sa.Column("municipality", sa.String(length=6), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("assigned_at", _UTC, nullable=False),
        sa.Column("retired_at", _UTC, nullable=True),
        sa.PrimaryKeyConstraint("number", name=op.f("pk_individual_numbers")),
    )
    op.create_index(
        "ux_individual_numbers_assigned", "individual_numbers", ["resident_code"], unique=True,
        sqlite_where=_ASSIGNED, postgresql_where=_ASSIGNED,
    )  # fmt: skip


def downgrade() -> None:
    op.drop_index("ux_individual_numbers_assigned", table_name="individual_numbers")
    op.drop_table("individual_numbers")
