"""chain-head checkpoints kept for other nodes; signed provision-log anchors

Revision ID: a0d170004c4e0
Revises: 391bca9ecd91
Create Date: 2026-11-28 20:00:00.000000
"""

from collections.abc import Sequence

from jukinet.audit.migrations import (
    downgrade_anchor_signature_0001,
    downgrade_checkpoints_0001,
    upgrade_anchor_signature_0001,
    upgrade_checkpoints_0001,
)

revision: str = "a0d170004c4e0"
down_revision: str | None = "391bca9ecd91"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    upgrade_checkpoints_0001()
    upgrade_anchor_signature_0001()


def downgrade() -> None:
    downgrade_anchor_signature_0001()
    downgrade_checkpoints_0001()
