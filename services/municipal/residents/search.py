"""Finding residents in the register by what a clerk knows of them.

Names and readings match by their start, compared as :func:`name_key` and
:func:`kana_key` compare them (kept in indexed columns); addresses by their start as
written.
Results come in pages, ordered by name key, birth date and id; the count of all matches
comes with each page. The route's operation-log entry records who searched, never what.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from jukinet.contracts.identity import kana_key, name_key
from municipal.models import Resident
from municipal.residents.schemas import ResidentOut, ResidentSearch, SearchPage

__all__ = ["search"]

_AFTER_ALL = "\U0010ffff"  # above every character: "k" <= key < "k" + this is a prefix


async def search(session: AsyncSession, ask: ResidentSearch) -> SearchPage:
    where = _criteria(ask)
    total = await session.scalar(select(func.count()).select_from(Resident).where(*where))
    page = (
        select(Resident)
        .where(*where)
        .order_by(Resident.name_key, Resident.birth_date, Resident.id)
        .offset((ask.page - 1) * ask.page_size)
        .limit(ask.page_size)
    )
    found = list(await session.scalars(page))
    return SearchPage(
        total=int(total or 0),
        page=ask.page,
        page_size=ask.page_size,
        results=[ResidentOut.model_validate(r) for r in found],
    )


def _criteria(ask: ResidentSearch) -> list[ColumnElement[Any]]:
    where: list[ColumnElement[Any]] = []
    if ask.name is not None:
        where += _starts(Resident.name_key, name_key(ask.name))
    if ask.kana is not None:
        where += _starts(Resident.kana_key, kana_key(ask.kana))
    if ask.birth_date is not None:
        where.append(Resident.birth_date == ask.birth_date)
    if ask.address is not None:
        where += _starts(Resident.address, ask.address.strip())
    if ask.resident_code is not None:
        where.append(Resident.resident_code == ask.resident_code)
    if ask.household_id is not None:
        where.append(Resident.household_id == ask.household_id)
    if not ask.include_closed:
        where.append(Resident.status == "live")
    return where


def _starts(column: Any, prefix: str) -> list[ColumnElement[Any]]:
    """``column`` starts with ``prefix``, as a range the column's index serves."""
    return [column >= prefix, column < prefix + _AFTER_ALL]
