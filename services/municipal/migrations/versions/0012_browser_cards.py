"""operators: IC cards registered as FIDO2 authenticators for the counter's browser login,
and the one-time enrolment codes that register them

Revision ID: c09e50000012
Revises: c09e50000011
Create Date: 2026-11-29 07:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from jukinet.db.engine import UtcDateTime

revision: str = "c09e50000012"
down_revision: str | None = "c09e50000011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "operator_webauthn_credentials",
        sa.Column("credential_id", sa.String(length=400), nullable=False),
        sa.Column("operator", sa.String(length=40), nullable=False),
        sa.Column("card_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("sign_count", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("last_used_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("credential_id"),
    )
    op.create_index(
        op.f("ix_operator_webauthn_credentials_operator"),
        "operator_webauthn_credentials",
        ["operator"],
        unique=False,
    )
    op.create_table(
        "operator_webauthn_enrolments",
        sa.Column("operator", sa.String(length=40), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("operator"),
    )


def downgrade() -> None:
    op.drop_table("operator_webauthn_enrolments")
    op.drop_index(
        op.f("ix_operator_webauthn_credentials_operator"),
        table_name="operator_webauthn_credentials",
    )
    op.drop_table("operator_webauthn_credentials")
