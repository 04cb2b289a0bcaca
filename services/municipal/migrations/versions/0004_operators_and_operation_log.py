"""operators and operation log

Revision ID: 0be7a70c0004
Revises: c0de0003a001
Create Date: 2026-11-26 16:48:00.566882
"""

from collections.abc import Sequence

from jukinet.operators.migrations import downgrade_0001, upgrade_0001

revision: str = "0be7a70c0004"
down_revision: str | None = "c0de0003a001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    upgrade_0001()


def downgrade() -> None:
    downgrade_0001()
