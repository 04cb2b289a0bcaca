"""The search keys of every resident, computed in Python in batches: what the migrations
that add or change the keys (name_key, kana_key) run over an existing register."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from jukinet.contracts.identity import kana_key, name_key

__all__ = ["recompute_search_keys"]

_BATCH = 5000


def recompute_search_keys(bind: Connection) -> None:
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
