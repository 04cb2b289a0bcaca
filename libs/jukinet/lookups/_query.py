"""Reading identity records for a lookup, and keeping only the fields a grant allows."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, String, any_, bindparam, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from jukinet.contracts.identity import address_key, name_key
from jukinet.db.engine import AnyRow
from jukinet.records.store import RecordStatus, RecordTables

__all__ = ["by_code", "by_codes", "by_facts", "project"]


def project(row: AnyRow, fields: Sequence[str]) -> dict[str, Any]:
    """Only the allowed fields — plus ``status`` always, so no client ever mistakes a
    deleted (消除) resident's record for a live one. Dates stay dates: the response
    writer renders them as ISO 8601 (``YYYY-MM-DD``)."""
    values = row._mapping
    return {field: values[field] for field in ("status", *fields)}


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
    session: AsyncSession, records: RecordTables, codes: Sequence[str], fields: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """The live records of ``codes`` (retired codes are not found), each already
    projected to ``fields`` as :func:`project` would: one statement with an array on
    PostgreSQL, chunks of an IN list on SQLite."""
    r = records.records
    names = list(dict.fromkeys(("status", *fields)))
    columns = [r.c.resident_code, *(r.c[name] for name in names)]
    live = r.c.status != RecordStatus.RETIRED.value
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        codes_param = bindparam("codes", type_=postgresql.ARRAY(String(11)))
        query = select(*columns).where(r.c.resident_code == any_(codes_param), live)
        rows = await session.execute(query, {"codes": list(codes)})
        return {row[0]: dict(zip(names, row[1:], strict=True)) for row in rows}
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(codes), 500):
        chunk = list(codes[start : start + 500])
        rows = await session.execute(select(*columns).where(r.c.resident_code.in_(chunk), live))
        found.update({row[0]: dict(zip(names, row[1:], strict=True)) for row in rows})
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
    """Live records matching the facts; at most two (two means ambiguous).

    Names compare by :func:`name_key` (spaces, width and variant kanji folded) and
    addresses by :func:`address_key`: the candidates born that day with that sex are
    read by the facts index, their names and addresses compared here."""
    r = records.records
    candidates = select(r.c.resident_code, r.c.name, r.c.address).where(
        r.c.birth_date == birth_date, r.c.sex == sex, r.c.status == RecordStatus.LIVE.value
    )
    wanted, place = name_key(name), address_key(address) if address is not None else None
    codes = [
        row.resident_code
        for row in await session.execute(candidates)
        if name_key(row.name) == wanted and (place is None or address_key(row.address) == place)
    ][:2]
    if not codes:
        return []
    found = await session.execute(select(r).where(r.c.resident_code.in_(codes)))
    return list(found.all())
