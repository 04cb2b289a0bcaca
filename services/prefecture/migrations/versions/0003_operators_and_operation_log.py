"""operators and operation log

Revision ID: 391bca9ecd91
Revises: 5114f477014c
Create Date: 2026-11-26 16:48:00.566882
"""

from collections.abc import Sequence

from jukinet.operators.migrations import downgrade_0001, upgrade_0001

revision: str = "391bca9ecd91"
down_revision: str | None = "5114f477014c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    upgrade_0001()


def downgrade() -> None:
    downgrade_0001()
