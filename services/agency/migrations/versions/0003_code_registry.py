"""code registry: every resident code designated or retired nationally

Revision ID: c0de0003a002
Revises: fbc7b19c1fc8
Create Date: 2026-11-27 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import jukinet.db.engine

revision: str = "c0de0003a002"
down_revision: str | None = "fbc7b19c1fc8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "code_registry",
        sa.Column("code", sa.String(length=11), nullable=False),
        sa.Column("municipality", sa.String(length=6), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("designation_id", sa.String(length=32), nullable=True),
        sa.Column("designated_at", jukinet.db.engine.UtcDateTime(timezone=True), nullable=True),
        sa.Column("retired_at", jukinet.db.engine.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_code_registry")),
    )
    with op.batch_alter_table("code_registry", schema=None) as batch_op:
        batch_op.create_index(
            "ix_code_registry_municipality", ["municipality", "status"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("code_registry", schema=None) as batch_op:
        batch_op.drop_index("ix_code_registry_municipality")

    op.drop_table("code_registry")
