"""The SQL of the register: residents, their versions and their households. Every method
runs in the caller's transaction; rows are the mapped classes of :mod:`municipal.models`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from jukinet.contracts.identity import ChangeReason, name_key
from municipal.models import Household, Resident, ResidentVersion

__all__ = ["HouseholdRepository", "ResidentRepository"]


class ResidentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, resident_id: str, *, for_update: bool = False) -> Resident | None:
        return await self.session.get(Resident, resident_id, with_for_update=for_update)

    async def with_code_for_update(self, code: str) -> Resident | None:
        """The resident holding ``code`` (live or closed), locked for the change."""
        query = select(Resident).where(Resident.resident_code == code)
        return (await self.session.scalars(query.with_for_update())).first()

    async def with_codes(self, codes: Sequence[str]) -> list[Resident]:
        query = select(Resident).where(Resident.resident_code.in_(codes))
        return list(await self.session.scalars(query))

    async def matching(
        self, *, code: str | None = None, birth_date: dt.date | None = None, name: str | None = None
    ) -> list[Resident]:
        """Residents (live or not) holding ``code`` or, without one, born on ``birth_date``
        under ``name`` — compared as a search compares names (:func:`name_key`)."""
        query = select(Resident)
        if code is not None:
            return list(await self.session.scalars(query.where(Resident.resident_code == code)))
        born = await self.session.scalars(query.where(Resident.birth_date == birth_date))
        wanted = name_key(name or "")
        return [r for r in born if name_key(r.name) == wanted]

    async def live_members(self, household_id: str) -> list[Resident]:
        """The live members of a household, in the order they were registered."""
        query = select(Resident).where(
            Resident.household_id == household_id, Resident.status == "live"
        )
        return list(await self.session.scalars(query.order_by(Resident.created_at)))

    async def reconcilable(self, bucket: str | None) -> list[Resident]:
        """Every record the tiers hold as this town's, by code (optionally those starting
        with ``bucket``): all but the moved out, who belong to the new town."""
        moved_out = (Resident.status == "deleted") & (
            Resident.change_reason == ChangeReason.MOVE_OUT.value
        )
        query = select(Resident).where(~moved_out)
        if bucket is not None:
            query = query.where(Resident.resident_code.like(f"{bucket}%"))
        return list(await self.session.scalars(query.order_by(Resident.resident_code)))

    async def holding(self, codes: Sequence[str]) -> set[str]:
        """Which of ``codes`` a resident holds."""
        query = select(Resident.resident_code).where(Resident.resident_code.in_(codes))
        return set(await self.session.scalars(query))

    async def count_holding(self, codes: Sequence[str]) -> int:
        """How many residents hold one of ``codes``."""
        query = select(func.count()).where(Resident.resident_code.in_(codes))
        return int(await self.session.scalar(query) or 0)

    def add(self, resident: Resident) -> None:
        self.session.add(resident)

    async def add_version(self, version: ResidentVersion) -> None:
        """Record one version of a resident's record (flushed: the outbox item follows)."""
        self.session.add(version)
        await self.session.flush()

    async def versions(self, resident_id: str) -> list[ResidentVersion]:
        """Every version of a resident's record, oldest first."""
        query = (
            select(ResidentVersion)
            .where(ResidentVersion.resident_id == resident_id)
            .order_by(ResidentVersion.version)
        )
        return list(await self.session.scalars(query))


class HouseholdRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, household_id: str) -> Household | None:
        return await self.session.get(Household, household_id)

    def add(self, household: Household) -> None:
        self.session.add(household)
