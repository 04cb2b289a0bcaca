"""A resident's 旧氏, nationality and 通称 as changes set them, and the 通称's own history
(通称の記載及び削除に関する事項): a row per alias, closed with its date when deleted or
replaced, kept like every other part of the register."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from jukinet.contracts.identity import ChangeReason
from jukinet.contracts.residency import check_residency, residency_of
from jukinet.node.problems import Conflict
from municipal.models import Resident, ResidentAlias
from municipal.residents.schemas import ChangeResident, RegisterResident

__all__ = ["NothingRecorded", "ResidencyMismatch", "aliases_of", "change_residency",
           "record_residency"]  # fmt: skip

_SET_BY = {
    ChangeReason.FORMER_SURNAME_RECORD: ("former_surname", "former_surname_kana"),
    ChangeReason.FORMER_SURNAME_DELETE: ("former_surname", "former_surname_kana"),
    ChangeReason.ALIAS_RECORD: ("alias", "alias_kana"),
    ChangeReason.ALIAS_DELETE: ("alias", "alias_kana"),
}


class ResidencyMismatch(Conflict):
    type = "residency-mismatch"
    title = "The change does not fit a national's or a foreign resident's record"


class NothingRecorded(Conflict):
    type = "nothing-recorded"
    title = "There is no former surname or alias to delete"


async def record_residency(
    session: AsyncSession, resident: Resident, body: RegisterResident, municipality: str
) -> None:
    """A new entry's 旧氏, nationality and 通称 (the body checked they fit)."""
    for field, value in residency_of(body).items():
        setattr(resident, field, value)
    await _close_alias(session, resident.id, body.change_date)  # a record reopened
    _open_alias(session, resident, body.change_date, municipality)


async def change_residency(
    session: AsyncSession, resident: Resident, body: ChangeResident, municipality: str
) -> None:
    """Apply a 旧氏/通称 change or a correction of nationality, then check the record still
    fits the person (a 通称 for a national, a 旧氏 for a foreign resident, a name out of
    the alphabet for a foreign resident are refused)."""
    fields = _SET_BY.get(body.reason)
    if fields is not None:
        if body.reason.value.endswith("_delete") and getattr(resident, fields[0]) is None:
            raise NothingRecorded(f"no {fields[0]} is recorded for this resident")
        for field in fields:
            setattr(resident, field, getattr(body, field))
    if body.nationality is not None:
        if resident.nationality is None:
            raise ResidencyMismatch("nationality is corrected on a foreign resident's record")
        resident.nationality = body.nationality
    try:
        check_residency(name=resident.name, **residency_of(resident))
    except ValueError as exc:
        raise ResidencyMismatch(str(exc)) from None
    if body.reason in (ChangeReason.ALIAS_RECORD, ChangeReason.ALIAS_DELETE):
        await _close_alias(session, resident.id, body.change_date)
        _open_alias(session, resident, body.change_date, municipality)


async def aliases_of(session: AsyncSession, resident_id: str) -> list[ResidentAlias]:
    """Every alias recorded here for the resident, oldest first."""
    rows = await session.scalars(
        select(ResidentAlias)
        .where(ResidentAlias.resident_id == resident_id)
        .order_by(ResidentAlias.recorded_on, ResidentAlias.id)
    )
    return list(rows)


def _open_alias(session: AsyncSession, resident: Resident, on: dt.date, municipality: str) -> None:
    if resident.alias is not None:
        session.add(ResidentAlias(resident_id=resident.id, alias=resident.alias,
                                  alias_kana=resident.alias_kana, recorded_on=on,
                                  municipality=municipality))  # fmt: skip


async def _close_alias(session: AsyncSession, resident_id: str, on: dt.date) -> None:
    await session.execute(
        update(ResidentAlias)
        .where(ResidentAlias.resident_id == resident_id, ResidentAlias.deleted_on.is_(None))
        .values(deleted_on=on)
    )
