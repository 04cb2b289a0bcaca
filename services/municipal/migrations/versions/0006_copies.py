"""nationwide copies: issued copies, copy provisions, residents by birth date and name

Revision ID: c09e50000006
Revises: 532549aab783
Create Date: 2026-11-27 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import jukinet.db.engine

revision: str = "c09e50000006"
down_revision: str | None = "532549aab783"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("residents", schema=None) as batch_op:
        batch_op.create_index("ix_residents_birth_date_name", ["birth_date", "name"], unique=False)

    op.create_table(
        "issued_copies",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("copy_id", sa.String(length=32), nullable=False),
        sa.Column("home_municipality", sa.String(length=6), nullable=False),
        sa.Column("clerk", sa.String(length=120), nullable=False),
        sa.Column("purpose", sa.String(length=200), nullable=False),
        sa.Column("whole_household", sa.Boolean(), nullable=False),
        sa.Column("include_resident_code", sa.Boolean(), nullable=False),
        sa.Column("include_relation", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("request_message_id", sa.String(length=32), nullable=True),
        sa.Column("provision_id", sa.String(length=32), nullable=True),
        sa.Column("people", sa.Integer(), nullable=False),
        sa.Column("requested_at", jukinet.db.engine.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_issued_copies")),
        sa.UniqueConstraint("copy_id", name=op.f("uq_issued_copies_copy_id")),
    )
    with op.batch_alter_table("issued_copies", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_issued_copies_requested_at"), ["requested_at"], unique=False
        )

    op.create_table(
        "copy_provisions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("request_message_id", sa.String(length=32), nullable=False),
        sa.Column("requester", sa.String(length=6), nullable=False),
        sa.Column("clerk", sa.String(length=120), nullable=False),
        sa.Column("purpose", sa.String(length=200), nullable=False),
        sa.Column("whole_household", sa.Boolean(), nullable=False),
        sa.Column("include_resident_code", sa.Boolean(), nullable=False),
        sa.Column("include_relation", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("resident_ids", sa.Text(), nullable=False),
        sa.Column("requested_at", jukinet.db.engine.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_copy_provisions")),
        sa.UniqueConstraint(
            "request_message_id", name=op.f("uq_copy_provisions_request_message_id")
        ),
    )
    with op.batch_alter_table("copy_provisions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_copy_provisions_requested_at"), ["requested_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_copy_provisions_requester"), ["requester"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("copy_provisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_copy_provisions_requester"))
        batch_op.drop_index(batch_op.f("ix_copy_provisions_requested_at"))
    op.drop_table("copy_provisions")
    with op.batch_alter_table("issued_copies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_issued_copies_requested_at"))
    op.drop_table("issued_copies")
    with op.batch_alter_table("residents", schema=None) as batch_op:
        batch_op.drop_index("ix_residents_birth_date_name")
