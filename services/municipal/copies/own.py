"""Copies from the municipality's own register (本庁交付): the most common certificate at
any counter, issued without asking anyone.

The clerk names a resident found in the register (by id), and either that person alone,
the whole household, or chosen members of the same household. The items the Act lets a
municipality leave off (住民基本台帳法第12条第5項) are printed only when the applicant
specially asked: 続柄, 住民票コード, 本籍・筆頭者 and 前住所. The household's head is
always printed; a household whose head has left (a 世帯主変更 is due) gets no copy until
the change is recorded, so no copy ever names a departed head or none.

Both ledgers record every copy as they do a nationwide one: the issuing side's
``issued_copies`` (its serial is the copy's number; refusals too) and the home side's
``copy_provisions`` with the residents printed, which is what a resident's disclosure
of who received their record reads. Here both sides are this municipality.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jukinet.contracts.identity import ChangeReason
from jukinet.contracts.principals import Principal
from jukinet.contracts.residency import residency_of
from jukinet.node.problems import Conflict, NotFound, Problem
from jukinet.operators import Actor
from jukinet.pki import utcnow
from municipal.copies.document import CertifiedCopy, OwnCopyEntry, render_pdf
from municipal.copies.models import CopyProvision, IssuedCopy
from municipal.copies.protocol import Purpose
from municipal.copies.repository import CopyProvisions, IssuedCopies
from municipal.copies.settings import Issuer
from municipal.models import Household, Resident
from municipal.residents.repository import HouseholdRepository, ResidentRepository
from municipal.residents.schemas import MEMBER_ID, RESIDENT_ID

__all__ = [
    "IssueOwnCopy",
    "NoSuchResident",
    "OwnCopyNotIssued",
    "OwnCopyRefused",
    "OwnCounter",
    "issue_own_copy",
]

_JST = dt.timezone(dt.timedelta(hours=9), "JST")
ResidentId = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$", description="a resident's id")]


class IssueOwnCopy(BaseModel):
    """``POST /copies/own``: whom the copy shows and which optional items it prints."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    purpose: Purpose = Field(
        description="What the copy is for (目的): kept in both ledgers, not printed.",
        examples=["児童手当の申請"],
    )
    id_checked: Literal[True] = Field(
        description="The clerk saw the applicant's ID (本人確認): no copy otherwise.",
        examples=[True],
    )
    resident_id: ResidentId = Field(
        description="The person asked about, by id (found with the register search).",
        examples=[RESIDENT_ID],
    )
    whole_household: bool = Field(
        False, description="Every live member of the household (世帯全員).", examples=[False]
    )
    members: list[ResidentId] | None = Field(
        None,
        max_length=100,
        description="Chosen members of the person's household, by id, besides the person.",
        examples=[[MEMBER_ID]],
    )
    include_relation: bool = Field(
        False, description="Print each person's relation to the head (続柄).", examples=[True]
    )
    include_resident_code: bool = Field(
        False, description="Print the resident codes (住民票コード).", examples=[False]
    )
    include_registered_domicile: bool = Field(
        False,
        description="Print the registered domicile and its head (本籍・筆頭者).",
        examples=[False],
    )
    include_previous_address: bool = Field(
        False, description="Print the previous address (前住所).", examples=[False]
    )
    include_individual_number: bool = Field(
        False,
        description="Print each person's 個人番号 (only at the applicant's special request, "
        "住民基本台帳法第12条第5項; own-register copies only).",
        examples=[False],
    )


class NoSuchResident(NotFound):
    reasons: ClassVar[Mapping[str, str]] = {
        "not_found": "no resident of this municipality has that id"
    }


class OwnCopyRefused(Conflict):
    type = "own-copy-refused"
    title = "No copy can be issued for this household now"
    reasons: ClassVar[Mapping[str, str]] = {
        "moved_out": "the person has moved out (転出): their record is a 除票, another certificate",
        "not_live": "the person's record is otherwise closed (消除)",
        "no_household_head": "the household has no live head: record the 世帯主変更 first",
        "no_individual_number": "a person on the copy has no 個人番号 yet: the agency's "
        "answer has not arrived",
    }


class OwnCopyNotIssued(Problem):
    status, type, title = 422, "own-copy-not-issued", "The copy cannot be issued as asked"
    reasons: ClassVar[Mapping[str, str]] = {
        "not_member": "a chosen member does not live in the person's household",
        "unprintable": "the record holds what the certificate cannot print truthfully",
    }


@dataclass(frozen=True)
class OwnCounter:
    node: Principal
    sessions: async_sessionmaker[AsyncSession]
    issuer: Issuer


async def issue_own_copy(
    counter: OwnCounter, body: IssueOwnCopy, actor: Actor, copy_id: str
) -> bytes:
    """The copy as PDF bytes, both ledgers written; a :class:`Problem` otherwise (the
    refusal is recorded in ``issued_copies`` all the same)."""
    refused: Problem | None = None
    entries: list[OwnCopyEntry] = []
    async with counter.sessions() as session, session.begin():
        try:
            people, head = await _people(session, body)
            _check_numbers(people, body)
        except Problem as refusal:
            refused = refusal
            row = _ledger_row(counter, body, actor, copy_id, [], "refused")
            row.reason = refusal.reason
            serial = await IssuedCopies(session).add(row)
        else:
            row = _ledger_row(counter, body, actor, copy_id, people, "issued")
            serial = await IssuedCopies(session).add(row)
            CopyProvisions(session).add(_provision(counter, body, actor, copy_id, people))
            entries = [_entry(person, head, body) for person in people]
    if refused is not None:
        raise refused
    copy = CertifiedCopy(
        issuer_name=counter.issuer.name,
        issuer_code=counter.node.code,
        mayor=counter.issuer.mayor,
        issue_date=dt.datetime.now(_JST).date(),
        home_name=counter.issuer.name,
        home_code=counter.node.code,
        serial=f"第{serial:06d}号",
        entries=entries,
        kind="own",
    )
    try:
        return await asyncio.to_thread(render_pdf, copy)
    except ValueError:
        await _mark(counter, serial, "unprintable")
        raise OwnCopyNotIssued("the record cannot be printed", reason="unprintable") from None


def _check_numbers(people: list[Resident], body: IssueOwnCopy) -> None:
    if body.include_individual_number and any(p.individual_number is None for p in people):
        raise OwnCopyRefused("a number asked for is not there yet", reason="no_individual_number")


async def _people(session: AsyncSession, body: IssueOwnCopy) -> tuple[list[Resident], Resident]:
    """The people on the copy, head first, and the household's head."""
    residents = ResidentRepository(session)
    person = await residents.get(body.resident_id)
    if person is None:
        raise NoSuchResident("no such resident in this municipality", reason="not_found")
    if person.status != "live":
        moved = person.change_reason == ChangeReason.MOVE_OUT.value
        raise OwnCopyRefused(
            "the record is closed: a 除票 is another certificate",
            reason="moved_out" if moved else "not_live",
        )
    household = await _household(session, person)
    head = await residents.get(household.head_id) if household.head_id else None
    if head is None or head.status != "live" or head.household_id != household.id:
        raise OwnCopyRefused(
            "the household has no head: record the 世帯主変更 first", reason="no_household_head"
        )
    live = await residents.live_members(household.id)
    if body.whole_household:
        chosen = live
    elif body.members is not None:
        wanted = set(body.members) | {person.id}
        chosen = [r for r in live if r.id in wanted]
        if len(chosen) != len(wanted):
            raise OwnCopyNotIssued(
                "every member chosen must live in the person's household", reason="not_member"
            )
    else:
        chosen = [person]
    return sorted(chosen, key=lambda r: (r.id != head.id, r.created_at, r.id)), head


async def _household(session: AsyncSession, person: Resident) -> Household:
    household = await HouseholdRepository(session).get(person.household_id or "")
    if household is None:  # every live resident belongs to a household
        raise OwnCopyRefused("the resident has no household", reason="no_household_head")
    return household


def _entry(person: Resident, head: Resident, body: IssueOwnCopy) -> OwnCopyEntry:
    domicile = body.include_registered_domicile
    return OwnCopyEntry(
        name=person.name,
        name_kana=person.name_kana,
        birth_date=person.birth_date,
        sex="male" if person.sex == "male" else "female",
        address=person.address,
        became_resident_date=person.became_resident_on,
        change_reason_label=ChangeReason(person.change_reason).label,
        change_date=person.change_date,
        previous_address=person.previous_address if body.include_previous_address else None,
        household_head=head.name,
        resident_code=person.resident_code if body.include_resident_code else None,
        relation=person.relation if body.include_relation else None,
        registered_domicile=person.registered_domicile if domicile else None,
        family_register_head=person.family_register_head if domicile else None,
        individual_number=person.individual_number if body.include_individual_number else None,
        **residency_of(person),
    )


def _ledger_row(
    counter: OwnCounter,
    body: IssueOwnCopy,
    actor: Actor,
    copy_id: str,
    people: list[Resident],
    outcome: str,
) -> IssuedCopy:
    return IssuedCopy(
        copy_id=copy_id,
        home_municipality=counter.node.code,
        **_asked(body, actor),
        outcome=outcome,
        reason=None,
        request_message_id=None,
        provision_id=copy_id if people else None,
        people=len(people),
        requested_at=utcnow(),
    )


def _asked(body: IssueOwnCopy, actor: Actor) -> dict[str, Any]:
    """What both ledgers record of the request: who asked, why, and what was printed."""
    return {
        "clerk": actor.name,
        "purpose": body.purpose,
        "whole_household": body.whole_household,
        "include_resident_code": body.include_resident_code,
        "include_relation": body.include_relation,
        "include_registered_domicile": body.include_registered_domicile,
        "include_previous_address": body.include_previous_address,
        "include_individual_number": body.include_individual_number,
    }


def _provision(
    counter: OwnCounter, body: IssueOwnCopy, actor: Actor, copy_id: str, people: list[Resident]
) -> CopyProvision:
    """The home side's record; its ``request_message_id`` is the copy's own id, as no
    message travelled."""
    return CopyProvision(
        id=copy_id,
        request_message_id=copy_id,
        requester=counter.node.code,
        **_asked(body, actor),
        outcome="issued",
        reason=None,
        resident_ids=json.dumps([p.id for p in people]),
        requested_at=utcnow(),
    )


async def _mark(counter: OwnCounter, serial: int, reason: str) -> None:
    async with counter.sessions() as session, session.begin():
        await IssuedCopies(session).mark(serial, outcome="failed", reason=reason)
