"""lookups and provision log

Revision ID: fbc7b19c1fc8
Revises: 080d51b9013b
Create Date: 2026-11-26 11:27:13.974796
"""

from collections.abc import Sequence

from jukinet.lookups.migrations import downgrade_tables_0001, upgrade_tables_0001

revision: str = "fbc7b19c1fc8"
down_revision: str | None = "080d51b9013b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    upgrade_tables_0001()


def downgrade() -> None:
    downgrade_tables_0001()
