"""outbox: undeliverable items set aside, resolved items, the signer of sealed messages

Revision ID: b05e00000007
Revises: a0d170007c4e0
Create Date: 2026-11-28 20:00:00.000000
"""

from collections.abc import Sequence

from jukinet.bus.migrations import downgrade_undeliverable, upgrade_undeliverable

revision: str = "b05e00000007"
down_revision: str | None = "a0d170007c4e0"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    upgrade_undeliverable()


def downgrade() -> None:
    downgrade_undeliverable()
