"""residents: the name and reading as a search compares them (name_key, kana_key)

Revision ID: c09e50000011
Revises: c09e50000010
Create Date: 2026-11-29 05:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from jukinet.contracts.identity import kana_key, name_key

revision: str = "c09e50000011"
down_revision: str | None = "c09e50000010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 5000


def upgrade() -> None:
    with op.batch_alter_table("residents", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("name_key", sa.String(length=100), server_default="", nullable=False)
        )
        batch_op.add_column(sa.Column("kana_key", sa.String(length=200), nullable=True))
    _backfill()
    with op.batch_alter_table("residents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_residents_name_key"), ["name_key"], unique=False)
        batch_op.create_index(batch_op.f("ix_residents_kana_key"), ["kana_key"], unique=False)


def _backfill() -> None:
    """Every existing resident's keys, in batches (the keys are computed in Python)."""
    bind = op.get_bind()
    residents = sa.table(
        "residents", sa.column("id"), sa.column("name"), sa.column("name_kana"),
        sa.column("name_key"), sa.column("kana_key"),
    )  # fmt: skip
    after = ""
    while True:  # bounded by the table: each pass moves past the last id it saw
        rows = bind.execute(
            sa.select(residents.c.id, residents.c.name, residents.c.name_kana)
            .where(residents.c.id > after)
            .order_by(residents.c.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            return
        keys = [
            {"rid": r.id, "nk": name_key(r.name),
             "kk": kana_key(r.name_kana) if r.name_kana is not None else None}
            for r in rows
        ]  # fmt: skip
        bind.execute(
            residents.update()
            .where(residents.c.id == sa.bindparam("rid"))
            .values(name_key=sa.bindparam("nk"), kana_key=sa.bindparam("kk")),
            keys,
        )
        after = rows[-1].id


def downgrade() -> None:
    with op.batch_alter_table("residents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_residents_kana_key"))
        batch_op.drop_index(batch_op.f("ix_residents_name_key"))
        batch_op.drop_column("kana_key")
        batch_op.drop_column("name_key")
