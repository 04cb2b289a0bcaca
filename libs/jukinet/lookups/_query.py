"""Reading identity records for a lookup, and keeping only the fields a grant allows."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from jukinet.contracts.identity import canonical_name
from jukinet.db.engine import AnyRow
from jukinet.records.store import RecordStatus, RecordTables

__all__ = ["by_code", "by_codes", "by_facts", "project"]


def project(row: AnyRow, fields: Sequence[str]) -> dict[str, Any]:
    """Only the allowed fields — plus ``status`` always, so no client ever mistakes a
    deleted (消除) resident's record for a live one."""
    values = row._mapping
    out: dict[str, Any] = {}
    for field in ("status", *fields):
        value = values[field]
        out[field] = value.isoformat() if isinstance(value, dt.date) else value
    return out


async def by_code(session: AsyncSession, records: RecordTables, code: str) -> AnyRow | None:
    """The record under ``code``; a retired code (replaced by a new one) is not found."""
    row: AnyRow | None = (await session.execute(_by_code(records), {"code": code})).first()
    return row


@functools.cache
def _by_code(records: RecordTables) -> Select[Any]:
    r = records.records
    retired = RecordStatus.RETIRED.value
    return select(r).where(r.c.resident_code == bindparam("code"), r.c.status != retired)


async def by_codes(
    session: AsyncSession, records: RecordTables, codes: Sequence[str]
) -> dict[str, AnyRow]:
    r = records.records
    found: dict[str, AnyRow] = {}
    for start in range(0, len(codes), 1000):
        chunk = list(codes[start : start + 1000])
        rows = await session.execute(
            select(r).where(r.c.resident_code.in_(chunk), r.c.status != RecordStatus.RETIRED.value)
        )
        found.update({row.resident_code: row for row in rows})
    return found


async def by_facts(
    session: AsyncSession,
    records: RecordTables,
    *,
    name: str,
    birth_date: dt.date,
    sex: str,
    address: str | None,
) -> list[AnyRow]:
    """Live records matching the facts; at most two (two means ambiguous)."""
    r = records.records
    query = select(r).where(
        r.c.birth_date == birth_date,
        r.c.sex == sex,
        r.c.name == canonical_name(name),
        r.c.status == RecordStatus.LIVE.value,
    )
    if address is not None:
        query = query.where(r.c.address == address)
    return list((await session.execute(query.limit(2))).all())
