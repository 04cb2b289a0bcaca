"""code designations: the resident codes designated to this prefecture's municipalities

Revision ID: c0de0004d001
Revises: b05e00000004
Create Date: 2026-11-28 20:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import jukinet.db.engine

revision: str = "c0de0004d001"
down_revision: str | None = "b05e00000004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "code_designations",
        sa.Column("code", sa.String(length=11), nullable=False),
        sa.Column("municipality", sa.String(length=6), nullable=False),
        sa.Column("source", sa.String(length=12), nullable=False),
        sa.Column("recorded_at", jukinet.db.engine.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_code_designations")),
    )
    with op.batch_alter_table("code_designations", schema=None) as batch_op:
        batch_op.create_index("ix_code_designations_municipality", ["municipality"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("code_designations", schema=None) as batch_op:
        batch_op.drop_index("ix_code_designations_municipality")
    op.drop_table("code_designations")
