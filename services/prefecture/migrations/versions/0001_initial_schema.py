"""initial schema

Revision ID: 0b0d9eb4276d
Revises:
Create Date: 2026-11-26 10:56:35.368151
"""

from collections.abc import Sequence

from jukinet.bus.migrations import downgrade_tables_0001, upgrade_tables_0001
from jukinet.records.migrations import downgrade_identity_0001, upgrade_identity_0001

revision: str = "0b0d9eb4276d"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    upgrade_tables_0001()
    upgrade_identity_0001()


def downgrade() -> None:
    downgrade_identity_0001()
    downgrade_tables_0001()
