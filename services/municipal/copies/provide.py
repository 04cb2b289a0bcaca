"""The home municipality's part: find the person a request names and build the records
that may travel.

:func:`copy_record` is the one place a register row becomes wire data, and it copies an
explicit list of fields: 本籍 and 筆頭者 are never read, so they cannot leave even if the
register grows new columns.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from jukinet.contracts.identity import ChangeReason, address_key, name_key
from jukinet.contracts.residency import residency_of
from municipal.copies.protocol import CopyOptions, CopyRecord, PersonQuery, Refusal
from municipal.models import Resident
from municipal.residents.repository import HouseholdRepository, ResidentRepository

__all__ = ["Found", "copy_record", "find_person", "records_for"]

_DELETION = {
    ChangeReason.MOVE_OUT.value: Refusal.MOVED_OUT,
    ChangeReason.DEATH.value: Refusal.DECEASED,
}


@dataclass(frozen=True, slots=True)
class Found:
    """The resident a request names, or why there is none to copy."""

    resident: Resident | None
    refusal: Refusal | None


async def find_person(session: AsyncSession, person: PersonQuery) -> Found:
    """The one live resident matching every given field.

    Deleted records stay in the register, so a person who moved out or died is found and
    refused for that reason rather than reported unknown.
    """
    found = await ResidentRepository(session).matching(
        code=person.resident_code, birth_date=person.birth_date, name=person.name
    )
    matches = [r for r in found if _matches(r, person)]
    live = [r for r in matches if r.status == "live"]
    if len(live) == 1:
        return Found(live[0], None)
    if live:
        return Found(None, Refusal.AMBIGUOUS)
    if not matches:
        return Found(None, Refusal.NOT_FOUND)
    latest = max(matches, key=lambda r: r.updated_at)
    return Found(None, _DELETION.get(latest.change_reason, Refusal.DELETED))


def _matches(resident: Resident, person: PersonQuery) -> bool:
    if person.name is not None and name_key(resident.name) != name_key(person.name):
        return False
    if person.birth_date is not None and resident.birth_date != person.birth_date:
        return False
    return person.address is None or _same_address(resident.address, person.address)


def _same_address(registered: str, stated: str) -> bool:
    """Compare as written on paper: full- and half-width forms alike, spaces ignored."""
    return address_key(registered) == address_key(stated)


async def records_for(
    session: AsyncSession, resident: Resident, options: CopyOptions
) -> tuple[list[Resident], list[CopyRecord]]:
    """The people on the copy (the person, or every live member of their household, head
    first) and their records as they travel."""
    residents = ResidentRepository(session)
    household_id = resident.household_id
    household = await HouseholdRepository(session).get(household_id) if household_id else None
    people = [resident]
    if options.whole_household and household is not None:
        members = await residents.live_members(household.id)
        people = sorted(members, key=lambda r: (r.id != household.head_id, r.created_at, r.id))
    head = await residents.get(household.head_id) if household and household.head_id else None
    head_name = head.name if head is not None and head.status == "live" else None
    return people, [copy_record(p, head_name, options) for p in people]


def copy_record(resident: Resident, household_head: str | None, options: CopyOptions) -> CopyRecord:
    """The record of one person as it may leave the municipality: the fields of a
    nationwide copy, the resident code and relation only when specially requested, and
    never 本籍 or 筆頭者."""
    return CopyRecord(
        name=resident.name,
        name_kana=resident.name_kana,
        birth_date=resident.birth_date,
        sex=resident.sex,
        address=resident.address,
        became_resident_on=resident.became_resident_on,
        change_reason=resident.change_reason,
        change_date=resident.change_date,
        previous_address=resident.previous_address,
        household_head=household_head,
        resident_code=resident.resident_code if options.include_resident_code else None,
        relation=resident.relation if options.include_relation else None,
        **residency_of(resident),
    )
