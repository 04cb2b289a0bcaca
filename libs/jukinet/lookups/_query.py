"""Reading identity records for a lookup, and keeping only the fields a grant allows."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, String, Table, any_, bindparam, select
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


NUMBER = "individual_number"  # a field read from the agency's number registry


def _with_numbers(r: Table, numbers: Table | None) -> tuple[list[Any], Any]:
    """The record's columns and, where the node keeps 個人番号 (the agency), the number
    assigned now, as ``individual_number``: what the query selects, and from where."""
    if numbers is None:
        return [r], r
    n = numbers
    joined = r.outerjoin(n, (n.c.resident_code == r.c.resident_code) & (n.c.status == "assigned"))
    return [r, n.c.number.label(NUMBER)], joined


async def by_code(
    session: AsyncSession, records: RecordTables, code: str, numbers: Table | None = None
) -> AnyRow | None:
    """The record under ``code``; a retired code (replaced by a new one) is not found."""
    query = _by_code(records, numbers)
    row: AnyRow | None = (await session.execute(query, {"code": code})).first()
    return row


@functools.cache
def _by_code(records: RecordTables, numbers: Table | None) -> Select[Any]:
    r = records.records
    retired = RecordStatus.RETIRED.value
    columns, source = _with_numbers(r, numbers)
    return (
        select(*columns)
        .select_from(source)
        .where(r.c.resident_code == bindparam("code"), r.c.status != retired)
    )


async def by_codes(
    session: AsyncSession, records: RecordTables, codes: Sequence[str], fields: Sequence[str],
    numbers: Table | None = None,
) -> dict[str, dict[str, Any]]:  # fmt: skip
    """The live records of ``codes`` (retired codes are not found), each already
    projected to ``fields`` as :func:`project` would: one statement with an array on
    PostgreSQL, chunks of an IN list on SQLite."""
    r = records.records
    names = list(dict.fromkeys(("status", *fields)))
    source: Any = r
    if NUMBER in names:
        _, source = _with_numbers(r, numbers)
    columns = [r.c.resident_code, *(_column(r, numbers, name) for name in names)]
    live = r.c.status != RecordStatus.RETIRED.value
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        codes_param = bindparam("codes", type_=postgresql.ARRAY(String(11)))
        query = select(*columns).select_from(source)
        query = query.where(r.c.resident_code == any_(codes_param), live)
        rows = await session.execute(query, {"codes": list(codes)})
        return {row[0]: dict(zip(names, row[1:], strict=True)) for row in rows}
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(codes), 500):
        chunk = list(codes[start : start + 500])
        query = select(*columns).select_from(source)
        rows = await session.execute(query.where(r.c.resident_code.in_(chunk), live))
        found.update({row[0]: dict(zip(names, row[1:], strict=True)) for row in rows})
    return found


def _column(r: Table, numbers: Table | None, name: str) -> Any:
    if name != NUMBER:
        return r.c[name]
    if numbers is None:  # the permission table gives the number at the agency only
        raise ValueError("this node keeps no individual numbers")
    return numbers.c.number.label(NUMBER)


async def by_facts(
    session: AsyncSession,
    records: RecordTables,
    *,
    name: str,
    birth_date: dt.date,
    sex: str,
    address: str | None,
    numbers: Table | None = None,
) -> list[AnyRow]:
    """Live records matching the facts; at most two (two means ambiguous).

    Names compare by :func:`name_key` (spaces, width, case and variant kanji folded; a
    foreign resident is found by the alphabet name or by the 通称) and addresses by
    :func:`address_key`: the candidates born that day with that sex are read by the facts
    index, their names and addresses compared here."""
    r = records.records
    candidates = select(r.c.resident_code, r.c.name, r.c.alias, r.c.address).where(
        r.c.birth_date == birth_date, r.c.sex == sex, r.c.status == RecordStatus.LIVE.value
    )
    wanted, place = name_key(name), address_key(address) if address is not None else None
    codes = [
        row.resident_code
        for row in await session.execute(candidates)
        if _named(row, wanted) and (place is None or address_key(row.address) == place)
    ][:2]
    if not codes:
        return []
    columns, source = _with_numbers(r, numbers)
    query = select(*columns).select_from(source).where(r.c.resident_code.in_(codes))
    return list((await session.execute(query)).all())


def _named(row: Any, wanted: str) -> bool:
    return name_key(row.name) == wanted or (row.alias is not None and name_key(row.alias) == wanted)
