"""The residents API. Resident ids in URLs are opaque; codes and names travel in bodies."""

from __future__ import annotations

from fastapi import APIRouter, Request, status

from jukinet.api import OperatorAuth, SessionDep
from jukinet.problems import problem_responses
from municipal.residents import service
from municipal.residents.schemas import ChangeResident, RegisterResident, ResidentOut

router = APIRouter(prefix="/residents", tags=["residents"], dependencies=[OperatorAuth])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 409, 422),
    summary="Record a resident (記載)",
)
async def register(body: RegisterResident, session: SessionDep, request: Request) -> ResidentOut:
    resident = await service.register(session, request.app.state.runtime.node, body)
    return ResidentOut.model_validate(resident)


@router.get("/{resident_id}", responses=problem_responses(401, 404), summary="One resident")
async def get(resident_id: str, session: SessionDep) -> ResidentOut:
    return ResidentOut.model_validate(await service.get_resident(session, resident_id))


@router.post(
    "/{resident_id}/changes",
    responses=problem_responses(401, 404, 409, 422),
    summary="Modify (修正) or delete (消除) a resident's identity record",
)
async def change(
    resident_id: str, body: ChangeResident, session: SessionDep, request: Request
) -> ResidentOut:
    node = request.app.state.runtime.node
    resident = await service.apply_change(session, node, resident_id, body)
    return ResidentOut.model_validate(resident)


__all__ = ["router"]
