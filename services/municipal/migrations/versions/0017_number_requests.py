"""residents: when the agency was last asked for the 個人番号 (so residents without one —
a migrated register, records older than numbers here — are asked for, and asked again
only after a while)

Revision ID: c09e50000017
Revises: c09e50000016
Create Date: 2026-11-29 11:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import jukinet.db.engine

revision: str = "c09e50000017"
down_revision: str | None = "c09e50000016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("residents") as batch:
        batch.add_column(sa.Column("number_requested_at",
                                   jukinet.db.engine.UtcDateTime(timezone=True), nullable=True))  # fmt: skip


def downgrade() -> None:
    with op.batch_alter_table("residents") as batch:
        batch.drop_column("number_requested_at")
