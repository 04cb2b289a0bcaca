"""The SQL of the record aggregate: a tier's current identity records and their history.

Batches are read with one SELECT for the codes they touch and written with bulk
statements; every method runs in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from jukinet.db.bulk import insert_rows
from jukinet.records.tables import HistoryRow, RecordRow, RecordTables

__all__ = ["RecordRepository"]


class RecordRepository:
    def __init__(self, session: AsyncSession, tables: RecordTables) -> None:
        self.session = session
        self.tables = tables

    async def get(self, code: str) -> RecordRow | None:
        t = self.tables.records
        row = (await self.session.execute(select(t).where(t.c.resident_code == code))).first()
        return None if row is None else RecordRow(**row._mapping)

    async def current(self, codes: Collection[str]) -> dict[str, RecordRow]:
        """The current records of ``codes`` this tier holds, by code."""
        t = self.tables.records
        rows = await self.session.execute(select(t).where(t.c.resident_code.in_(sorted(codes))))
        return {r.resident_code: RecordRow(**r._mapping) for r in rows}

    async def save(self, rows: Mapping[str, RecordRow], existing: Collection[str]) -> None:
        """Write current records: an INSERT for codes not ``existing``, an UPDATE of every
        column for the others."""
        t = self.tables.records
        inserts = [row.values() for code, row in rows.items() if code not in existing]
        updates = [
            {**row.values(), "b_code": code} for code, row in rows.items() if code in existing
        ]
        await insert_rows(self.session, t, inserts)
        if updates:
            columns: dict[str, Any] = {
                c.name: bindparam(c.name) for c in t.columns if c.name != "resident_code"
            }
            stmt = update(t).where(t.c.resident_code == bindparam("b_code")).values(columns)
            await self.session.execute(stmt.execution_options(synchronize_session=False), updates)

    async def drop(self, codes: Sequence[str], *, municipality: str) -> int:
        """Delete the current records of ``codes`` held by ``municipality``; how many."""
        t = self.tables.records
        result = await self.session.execute(
            t.delete().where(t.c.resident_code.in_(list(codes)), t.c.municipality == municipality)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def history(self, code: str) -> list[HistoryRow]:
        """Every accepted change of ``code``, oldest first."""
        h = self.tables.history
        rows = await self.session.execute(
            select(*self._history_columns()).where(h.c.resident_code == code).order_by(h.c.id)
        )
        return [HistoryRow(**r._mapping) for r in rows]

    async def history_elsewhere(self, code: str, holder: str) -> list[HistoryRow]:
        """The accepted changes of ``code`` from towns other than ``holder``, oldest first."""
        h = self.tables.history
        rows = await self.session.execute(
            select(*self._history_columns())
            .where(h.c.resident_code == code, h.c.municipality != holder)
            .order_by(h.c.id)
        )
        return [HistoryRow(**r._mapping) for r in rows]

    async def towns_in_history(self, codes: Collection[str]) -> set[tuple[str, str]]:
        """Every (code, municipality) pair the history of ``codes`` shows."""
        if not codes:
            return set()
        h = self.tables.history
        rows = await self.session.execute(
            select(h.c.resident_code, h.c.municipality)
            .where(h.c.resident_code.in_(sorted(codes)))
            .distinct()
        )
        return {(r.resident_code, r.municipality) for r in rows}

    async def add_history(self, rows: Sequence[HistoryRow]) -> None:
        await insert_rows(self.session, self.tables.history, [r.values() for r in rows])

    async def counts(self) -> dict[str, dict[str, int] | int]:
        """``{"records": {status: count}, "history": count}``: counts only."""
        t = self.tables.records
        rows = await self.session.execute(select(t.c.status, func.count()).group_by(t.c.status))
        history = await self.session.scalar(select(func.count()).select_from(self.tables.history))
        return {"records": {row[0]: row[1] for row in rows}, "history": int(history or 0)}

    def _history_columns(self) -> list[ColumnElement[Any]]:
        h = self.tables.history
        return [h.c[name] for name in HistoryRow._fields]
