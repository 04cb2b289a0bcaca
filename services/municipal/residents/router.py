"""The residents API. Resident ids in URLs are opaque; codes and names travel in bodies."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status

from jukinet.node.deps import AuditDep, NodeDep, SessionDep, guard
from jukinet.node.problems import problem_responses
from jukinet.operators import Actor
from jukinet.pki import utcnow
from municipal.codes import PoolExhausted
from municipal.moveouts.certificate import NoticeClosed, NoticeMismatch
from municipal.numbers import request_number
from municipal.residents import households, service
from municipal.residents.households import HeadLeaves, Unprocessable
from municipal.residents.residency import NothingRecorded, ResidencyMismatch, aliases_of
from municipal.residents.roles import require_ex_officio_role
from municipal.residents.schemas import (
    HOUSEHOLD_ID,
    RESIDENT_ID,
    AliasOut,
    ChangeResident,
    HistoryOut,
    HouseholdOut,
    MoveHousehold,
    NewHead,
    NumberReissue,
    RegisterResident,
    ResidentOut,
    ResidentSearch,
    SearchPage,
)
from municipal.residents.search import search
from municipal.residents.service import (
    AlreadyRegistered,
    CodeMismatch,
    NumberTaken,
    OwnMunicipality,
    ResidentDeleted,
)

router = APIRouter(prefix="/residents", tags=["residents"])
household_router = APIRouter(prefix="/households", tags=["residents"])

Writer = Annotated[Actor, guard("residents.write")]
Reader = Annotated[Actor, guard("residents.read")]
ResidentId = Annotated[
    str,
    Path(description="The resident's id in this register (opaque).", examples=[RESIDENT_ID]),
]
HouseholdId = Annotated[
    str, Path(description="The household's id (opaque).", examples=[HOUSEHOLD_ID])
]
_COUNTER = " Clerks, supervisors and the node's token only."
_WRITE = _COUNTER + " An ex-officio reason (職権) needs a supervisor (or the token)."


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(
        401,
        403,
        404,
        AlreadyRegistered,
        CodeMismatch,
        NumberTaken,
        NoticeClosed,
        NoticeMismatch,
        422,
        OwnMunicipality,
        PoolExhausted,
    ),
    summary="Record a resident (記載)",
    description="Records a resident for a recording reason (birth, move-in, ex-officio "
    "record, naturalisation…), in a new household or an existing one, and sends the "
    "identity record to the prefecture (and on to the agency) in the same transaction. "
    "A new resident gets a code drawn from the pool; a move-in from another municipality "
    "keeps the person's code and sends that municipality a move-in notice; someone who "
    "moved out of here and returns gets their old record back." + _WRITE,
)
async def register(
    body: RegisterResident, session: SessionDep, node: NodeDep, audit: AuditDep, actor: Writer
) -> ResidentOut:
    require_ex_officio_role(actor, body.reason)
    resident = await service.register(session, node, body, actor.name)
    audit.name_target(resident.id)
    return ResidentOut.model_validate(resident)


Searcher = Annotated[Actor, guard("residents.search")]


@router.post(
    "/search",
    responses=problem_responses(401, 403, 422),
    summary="Find residents by name, reading, birth date, address, code or household",
)
async def find(body: ResidentSearch, session: SessionDep, _: Searcher) -> SearchPage:
    """Live residents (closed records too if asked) matching every criterion given, a page
    at a time. The criteria travel in the body, never in the URL; the operation log
    records who searched, not what. Clerks, supervisors and the node's token only."""
    return await search(session, body)


@router.get(
    "/{resident_id}",
    responses=problem_responses(401, 403, 404),
    summary="One resident",
    description="The resident as the register holds them, live or deleted." + _COUNTER,
)
async def get(resident_id: ResidentId, session: SessionDep, _: Reader) -> ResidentOut:
    return ResidentOut.model_validate(await service.get_resident(session, resident_id))


@router.get(
    "/{resident_id}/history",
    responses=problem_responses(401, 403, 404),
    summary="Every version of the resident's record (corrections keep the old versions)",
    description="Every version of the resident's identity record, oldest first, each with "
    "what the register kept about its change." + _COUNTER,
)
async def history(resident_id: ResidentId, session: SessionDep, _: Reader) -> list[HistoryOut]:
    await service.get_resident(session, resident_id)
    return [HistoryOut.model_validate(v) for v in await households.history(session, resident_id)]


@router.get(
    "/{resident_id}/aliases",
    responses=problem_responses(401, 403, 404),
    summary="A foreign resident's 通称 and its history",
    description="Every alias (通称) recorded here for the resident, oldest first, with the "
    "dates it was recorded and deleted (通称の記載及び削除に関する事項)." + _COUNTER,
)
async def aliases(resident_id: ResidentId, session: SessionDep, _: Reader) -> list[AliasOut]:
    await service.get_resident(session, resident_id)
    return [AliasOut.model_validate(a) for a in await aliases_of(session, resident_id)]


@router.post(
    "/{resident_id}/changes",
    responses=problem_responses(
        401,
        403,
        404,
        ResidentDeleted,
        HeadLeaves,
        ResidencyMismatch,
        NothingRecorded,
        409,
        422,
        Unprocessable,
        PoolExhausted,
    ),
    summary="Modify (修正) or delete (消除) a resident's identity record",
    description="Applies a modifying or deleting change to a live resident, and to the "
    "members it takes along, each with a new version sent to the prefecture (and on to "
    "the agency); the household follows (a new head, or a household of one's own after "
    "an in-town move alone). A code change draws a new code from the pool. A deleted "
    "record can no longer be changed." + _WRITE,
)
async def change(
    resident_id: ResidentId,
    body: ChangeResident,
    session: SessionDep,
    node: NodeDep,
    actor: Writer,
) -> ResidentOut:
    require_ex_officio_role(actor, body.reason)
    resident = await service.apply_change(session, node, resident_id, body, actor.name)
    return ResidentOut.model_validate(resident)


@router.post(
    "/{resident_id}/individual-number",
    status_code=status.HTTP_202_ACCEPTED,
    responses=problem_responses(401, 403, 404, ResidentDeleted, 422),
    summary="Ask for a new 個人番号 after a leak (個人番号の変更)",
    description="On the resident's request or ex officio, when the number has leaked and "
    "may be misused: the agency is asked for a new number, which replaces the old one "
    "when its answer arrives (the old one is never issued again)." + _WRITE,
)
async def reissue_number(
    resident_id: ResidentId, body: NumberReissue, session: SessionDep, _: Writer
) -> ResidentOut:
    resident = await service.get_resident(session, resident_id)
    if resident.status != "live":
        raise ResidentDeleted("a deleted record gets no new number")
    await request_number(session, resident.resident_code, body.reason, utcnow())
    return ResidentOut.model_validate(resident)


@router.post(
    "/{resident_id}/household",
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Change household (世帯変更)",
    description="A live resident joins another household of this municipality, or heads "
    "a new one at their address. A register-only change: nothing is sent to the "
    "network." + _COUNTER,
)
async def move_household(
    resident_id: ResidentId, body: MoveHousehold, session: SessionDep, _: Writer
) -> ResidentOut:
    resident = await service.get_resident(session, resident_id)
    await households.move_household(session, resident, body)
    return ResidentOut.model_validate(resident)


@household_router.get(
    "/{household_id}",
    responses=problem_responses(401, 403, 404),
    summary="One household (世帯)",
    description="The household's head, address and live members." + _COUNTER,
)
async def household(household_id: HouseholdId, session: SessionDep, _: Reader) -> HouseholdOut:
    found, members = await households.household_of(session, household_id)
    return HouseholdOut(
        id=found.id,
        head_id=found.head_id,
        address=found.address,
        members=[ResidentOut.model_validate(m) for m in members],
    )


@household_router.post(
    "/{household_id}/head",
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Change the head of the household (世帯主変更)",
    description="A live member becomes the head; the relations given are set, and a "
    "previous head who stays must be given one. The change, its dates and who recorded "
    "it are kept. A register-only change: nothing is sent to the network." + _COUNTER,
)
async def change_head(
    household_id: HouseholdId, body: NewHead, session: SessionDep, actor: Writer
) -> HouseholdOut:
    await households.change_head(session, household_id, body, actor.name)
    return await household(household_id, session, actor)


__all__ = ["household_router", "router"]
