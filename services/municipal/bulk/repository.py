"""The SQL of a bulk import: plain Core inserts of residents, their first versions and
their outbox items, in the import's one transaction (ORM objects cost more than the SQL
at this size). Codes already known here are read through the residents' and the code
pool's repositories."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TypedDict

from sqlalchemy.ext.asyncio import AsyncSession

from jukinet.db.bulk import insert_rows
from municipal.models import Resident, ResidentAlias, ResidentVersion, bus

__all__ = ["AliasValues", "ImportRepository", "OutboxValues", "ResidentValues", "VersionValues"]


class ResidentValues(TypedDict):
    id: str
    resident_code: str
    name: str
    name_kana: str | None
    name_key: str
    kana_key: str | None
    birth_date: dt.date
    sex: str
    address: str
    change_reason: str
    change_date: dt.date
    status: str
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    former_surname: str | None
    former_surname_kana: str | None
    nationality: str | None
    alias: str | None
    alias_kana: str | None


class AliasValues(TypedDict):
    resident_id: str
    alias: str
    alias_kana: str | None
    recorded_on: dt.date
    municipality: str
    deleted_on: dt.date | None


class VersionValues(TypedDict):
    resident_id: str
    version: int
    resident_code: str
    change_reason: str
    change_date: dt.date
    record: str
    correlation_id: str
    recorded_at: dt.datetime


class OutboxValues(TypedDict):
    recipient: str
    message_type: str
    payload: str
    created_at: dt.datetime


class ImportRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_residents(
        self,
        residents: Sequence[ResidentValues],
        versions: Sequence[VersionValues],
        aliases: Sequence[AliasValues] = (),
    ) -> None:
        tables = Resident.metadata.tables
        await insert_rows(self.session, tables[Resident.__tablename__], residents)
        await insert_rows(self.session, tables[ResidentVersion.__tablename__], versions)
        if aliases:
            await insert_rows(self.session, tables[ResidentAlias.__tablename__], aliases)

    async def enqueue(self, items: Sequence[OutboxValues]) -> None:
        """Queue outbox items as they are (the relay seals and sends them in order)."""
        await insert_rows(self.session, bus.outbox_items, items)
