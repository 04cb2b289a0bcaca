"""The residents API. Resident ids in URLs are opaque; codes and names travel in bodies."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, status

from jukinet.node.deps import AuditDep, NodeDep, SessionDep, guard
from jukinet.node.problems import problem_responses
from jukinet.operators import Actor
from municipal.residents import households, service
from municipal.residents.roles import require_ex_officio_role
from municipal.residents.schemas import (
    ChangeResident,
    HistoryOut,
    HouseholdOut,
    MoveHousehold,
    NewHead,
    RegisterResident,
    ResidentOut,
    ResidentSearch,
    SearchPage,
)
from municipal.residents.search import search

router = APIRouter(prefix="/residents", tags=["residents"])
household_router = APIRouter(prefix="/households", tags=["residents"])

Writer = Annotated[Actor, guard("residents.write")]
Reader = Annotated[Actor, guard("residents.read")]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Record a resident (記載)",
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
    """The criteria travel in the body, never in the URL; the operation log records
    who searched, not what."""
    return await search(session, body)


@router.get("/{resident_id}", responses=problem_responses(401, 403, 404), summary="One resident")
async def get(resident_id: str, session: SessionDep, _: Reader) -> ResidentOut:
    return ResidentOut.model_validate(await service.get_resident(session, resident_id))


@router.get(
    "/{resident_id}/history",
    responses=problem_responses(401, 403, 404),
    summary="Every version of the resident's record (corrections keep the old versions)",
)
async def history(resident_id: str, session: SessionDep, _: Reader) -> list[HistoryOut]:
    await service.get_resident(session, resident_id)
    return [HistoryOut.model_validate(v) for v in await households.history(session, resident_id)]


@router.post(
    "/{resident_id}/changes",
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Modify (修正) or delete (消除) a resident's identity record",
)
async def change(
    resident_id: str,
    body: ChangeResident,
    session: SessionDep,
    node: NodeDep,
    actor: Writer,
) -> ResidentOut:
    require_ex_officio_role(actor, body.reason)
    resident = await service.apply_change(session, node, resident_id, body, actor.name)
    return ResidentOut.model_validate(resident)


@router.post(
    "/{resident_id}/household",
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Change household (世帯変更)",
)
async def move_household(
    resident_id: str, body: MoveHousehold, session: SessionDep, _: Writer
) -> ResidentOut:
    resident = await service.get_resident(session, resident_id)
    await households.move_household(session, resident, body)
    return ResidentOut.model_validate(resident)


@household_router.get("/{household_id}", responses=problem_responses(401, 403, 404))
async def household(household_id: str, session: SessionDep, _: Reader) -> HouseholdOut:
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
)
async def change_head(
    household_id: str, body: NewHead, session: SessionDep, actor: Writer
) -> HouseholdOut:
    await households.change_head(session, household_id, body, actor.name)
    return await household(household_id, session, actor)


__all__ = ["household_router", "router"]
