"""The SQL of the agency's own aggregates: the origin messages it applied and the
national resident-code registry. Identity records are the record store's
(:mod:`jukinet.records.repository`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Mapping, Sequence

from sqlalchemy import Table, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from agency.models import Base, CodeRegistryEntry, CodeStatus, OriginMessage, records
from jukinet.db.bulk import insert_rows

__all__ = ["CodeRegistry", "OriginMessages"]

_CHUNK = 1000  # codes per IN (...) query


class OriginMessages:
    """Each municipal message applied here: proof of origin, and de-duplication."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def applied(self, message_ids: Collection[str]) -> set[str]:
        """Which of ``message_ids`` were applied already."""
        query = select(OriginMessage.message_id).where(OriginMessage.message_id.in_(message_ids))
        return set(await self.session.scalars(query))

    def remember(
        self, message_id: str, *, municipality: str, forwarded_by: str, token: str, now: dt.datetime
    ) -> None:
        self.session.add(
            OriginMessage(
                message_id=message_id,
                municipality=municipality,
                forwarded_by=forwarded_by,
                token=token,
                received_at=now,
            )
        )


class CodeRegistry:
    """The national resident-code registry (``code_registry``); a row is never deleted."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def known(self, codes: Iterable[str]) -> set[str]:
        """Which of ``codes`` the agency has designated, retired, or holds records of
        (current or in their history)."""
        r, h = records.records, records.history
        columns = (CodeRegistryEntry.code, r.c.resident_code, h.c.resident_code)
        known: set[str] = set()
        ordered = sorted(codes)
        for start in range(0, len(ordered), _CHUNK):
            part = ordered[start : start + _CHUNK]
            for column in columns:
                known.update(await self.session.scalars(select(column).where(column.in_(part))))
        return known

    async def designated_to(self, codes: Sequence[str]) -> dict[str, str]:
        """The municipality each of ``codes`` is designated to (retired codes are not)."""
        found: dict[str, str] = {}
        for start in range(0, len(codes), _CHUNK):
            rows = await self.session.execute(
                select(CodeRegistryEntry.code, CodeRegistryEntry.municipality).where(
                    CodeRegistryEntry.code.in_(list(codes[start : start + _CHUNK])),
                    CodeRegistryEntry.status == CodeStatus.DESIGNATED.value,
                )
            )
            found.update({r.code: r.municipality for r in rows})
        return found

    async def status_counts(self) -> dict[str, int]:
        """How many codes the registry holds in each status (for /status)."""
        query = select(CodeRegistryEntry.status, func.count()).group_by(CodeRegistryEntry.status)
        return {row[0]: row[1] for row in await self.session.execute(query)}

    async def statuses(self, codes: Iterable[str]) -> dict[str, str]:
        """The registry status of each of ``codes`` it has a row for."""
        rows = await self.session.execute(
            select(CodeRegistryEntry.code, CodeRegistryEntry.status).where(
                CodeRegistryEntry.code.in_(sorted(codes))
            )
        )
        return {row[0]: row[1] for row in rows}

    async def designate(
        self,
        codes: Sequence[str],
        municipality: str,
        *,
        now: dt.datetime,
        designation_id: str | None = None,
    ) -> None:
        """Add ``codes`` as designated to ``municipality`` (by ``designation_id``, or with
        none: a migrated register's codes)."""
        rows = [
            {"code": code, "municipality": municipality, "status": CodeStatus.DESIGNATED.value,
             "designation_id": designation_id, "designated_at": now}
            for code in codes
        ]  # fmt: skip
        await insert_rows(self.session, _table(CodeRegistryEntry), rows)

    async def retire(self, codes: Sequence[str], *, now: dt.datetime) -> None:
        """Mark registered ``codes`` retired."""
        if codes:
            await self.session.execute(
                update(CodeRegistryEntry)
                .where(CodeRegistryEntry.code.in_(codes))
                .values(status=CodeStatus.RETIRED.value, retired_at=now)
            )

    async def add_retired(self, retired: Mapping[str, str], *, now: dt.datetime) -> None:
        """Add codes the registry never had as retired (code → the town that retired it)."""
        rows = [
            {"code": c, "municipality": town, "status": CodeStatus.RETIRED.value,
             "retired_at": now}
            for c, town in retired.items()
        ]  # fmt: skip
        await insert_rows(self.session, _table(CodeRegistryEntry), rows)


def _table(model: type[Base]) -> Table:
    return model.metadata.tables[model.__tablename__]
