"""code pool requests: codes designated by the agency, refill requests remembered

Revision ID: c0de0003a001
Revises: 644bb45c4ec5
Create Date: 2026-11-27 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import jukinet.db.engine

revision: str = "c0de0003a001"
down_revision: str | None = "644bb45c4ec5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "code_pool_requests",
        sa.Column("request_id", sa.String(length=32), nullable=False),
        sa.Column("wanted", sa.Integer(), nullable=False),
        sa.Column("requested_at", jukinet.db.engine.UtcDateTime(timezone=True), nullable=False),
        sa.Column("answered_at", jukinet.db.engine.UtcDateTime(timezone=True), nullable=True),
        sa.Column("designation_id", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_code_pool_requests")),
    )
    with op.batch_alter_table("code_pool", schema=None) as batch_op:
        batch_op.add_column(sa.Column("designation_id", sa.String(length=32), nullable=True))
    # Codes this municipality made up itself and never issued are unknown to the agency,
    # so they could clash with codes designated elsewhere: drop them. Drawn ones stay, so
    # they are never drawn again.
    op.execute("DELETE FROM code_pool WHERE drawn_at IS NULL")


def downgrade() -> None:
    with op.batch_alter_table("code_pool", schema=None) as batch_op:
        batch_op.drop_column("designation_id")

    op.drop_table("code_pool_requests")
