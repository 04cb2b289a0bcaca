"""residents: name keys recomputed now that variant kanji fold by the MJ shrink map too
(邉→辺, 齊→斉 …), so existing residents are found as new ones are

Revision ID: c09e50000013
Revises: c09e50000012
Create Date: 2026-11-29 07:20:00.000000
"""

from collections.abc import Sequence

from alembic import op

from municipal.residents.search_keys import recompute_search_keys

revision: str = "c09e50000013"
down_revision: str | None = "c09e50000012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    recompute_search_keys(op.get_bind())


def downgrade() -> None:
    """The keys stay as they are: the earlier fold is a coarser version of this one, and
    a search compares keys computed the same way only after upgrading again."""
