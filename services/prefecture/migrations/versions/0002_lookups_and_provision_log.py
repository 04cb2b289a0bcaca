"""lookups and provision log

Revision ID: 5114f477014c
Revises: 0b0d9eb4276d
Create Date: 2026-11-26 11:27:17.744518
"""

from collections.abc import Sequence

from jukinet.lookups.migrations import downgrade_tables_0001, upgrade_tables_0001

revision: str = "5114f477014c"
down_revision: str | None = "0b0d9eb4276d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    upgrade_tables_0001()


def downgrade() -> None:
    downgrade_tables_0001()
