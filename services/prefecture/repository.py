"""The SQL of the prefecture's own aggregate: the resident codes designated to its
municipalities (``code_designations``). Identity records are the record store's
(:mod:`jukinet.records.repository`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from jukinet.db.bulk import insert_rows
from prefecture.models import Base, CodeDesignation

__all__ = ["DesignationRepository"]

_CHUNK = 1000  # codes per IN (...) query


class DesignationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def owners(self, codes: Sequence[str]) -> dict[str, str]:
        """The town each of ``codes`` is designated to, for those known here."""
        found: dict[str, str] = {}
        for start in range(0, len(codes), _CHUNK):
            part = list(codes[start : start + _CHUNK])
            rows = await self.session.execute(
                select(CodeDesignation.code, CodeDesignation.municipality).where(
                    CodeDesignation.code.in_(part)
                )
            )
            found.update({r.code: r.municipality for r in rows})
        return found

    async def add(self, codes: Sequence[str], *, town: str, source: str, now: dt.datetime) -> None:
        """Record ``codes`` as designated to ``town`` (``source``: pool | migrated)."""
        rows = [
            {"code": c, "municipality": town, "source": source, "recorded_at": now} for c in codes
        ]
        await insert_rows(self.session, _table(CodeDesignation), rows)


def _table(model: type[Base]) -> Table:
    return model.metadata.tables[model.__tablename__]
