"""lookups: per-second activity counters for the monitoring rules

Revision ID: ac71f1700007
Revises: b05e00000005
Create Date: 2026-11-29 05:00:00.000000
"""

from collections.abc import Sequence

from jukinet.lookups.migrations import downgrade_activity_0002, upgrade_activity_0002

revision: str = "ac71f1700007"
down_revision: str | None = "b05e00000005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    upgrade_activity_0002()


def downgrade() -> None:
    downgrade_activity_0002()
