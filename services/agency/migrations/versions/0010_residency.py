"""identity records: a national's 旧氏 and a foreign resident's nationality and 通称

Revision ID: 1de070010a01
Revises: c4a9e5000009
Create Date: 2026-11-29 11:30:00.000000
"""

from collections.abc import Sequence

from jukinet.records.migrations import downgrade_identity_0002, upgrade_identity_0002

revision: str = "1de070010a01"
down_revision: str | None = "c4a9e5000009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    upgrade_identity_0002()


def downgrade() -> None:
    downgrade_identity_0002()
