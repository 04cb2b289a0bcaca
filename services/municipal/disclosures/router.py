"""Disclosure at the counter: request, then read the tiers' answers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from jukinet.node.deps import NodeDep, SessionDep, guard
from jukinet.node.problems import problem_responses
from municipal.disclosures import service

router = APIRouter(prefix="/disclosures", tags=["disclosures"], dependencies=[guard("disclosures")])


class DisclosureRequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    resident_id: str = Field(pattern=r"^[0-9a-f]{32}$")


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    responses=problem_responses(401, 404, 422),
    summary="Ask the prefecture and the agency whom they gave this resident's record",
)
async def request(body: DisclosureRequestIn, session: SessionDep, node: NodeDep) -> dict[str, str]:
    disclosure = await service.request_disclosure(session, node, body.resident_id)
    return {"id": disclosure.id, "status": "requested"}


@router.get("/{disclosure_id}", responses=problem_responses(401, 404), summary="The answers so far")
async def read(disclosure_id: str, session: SessionDep, node: NodeDep) -> dict[str, Any]:
    return await service.disclosure_view(session, node, disclosure_id)


@router.get(
    "/{disclosure_id}/document",
    response_class=Response,
    responses={
        200: {"content": {"application/pdf": {}}, "description": "The disclosure"},
        **problem_responses(401, 404, 409),
    },
    summary="The disclosure printed for the resident (PDF), once every tier has answered",
)
async def document(disclosure_id: str, session: SessionDep, node: NodeDep) -> Response:
    pdf = await service.disclosure_document(session, node, disclosure_id)
    headers = {"Content-Disposition": f'inline; filename="disclosure-{disclosure_id}.pdf"'}
    return Response(pdf, media_type="application/pdf", headers=headers)
