"""Disclosure at the counter: request, then read the tiers' answers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, status
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from jukinet.node.deps import NodeDep, SessionDep, guard
from jukinet.node.problems import problem_responses
from municipal.disclosures import service
from municipal.disclosures.service import NotYetAnswered

router = APIRouter(prefix="/disclosures", tags=["disclosures"], dependencies=[guard("disclosures")])
_WHO = " Clerks, supervisors and the node's token only."
DisclosureId = Annotated[
    str,
    Path(
        description="The disclosure request's id, as POST /disclosures answered it.",
        examples=["5b7e2d9c1a4f4e6b8d3c0a9f7e1b2c46"],
    ),
]


class DisclosureRequestIn(BaseModel):
    """Whose record the disclosure is about: a resident of this municipality."""

    model_config = ConfigDict(extra="forbid")
    resident_id: str = Field(
        pattern=r"^[0-9a-f]{32}$",
        description="The resident's id (found with the register search).",
        examples=["3f2a9c4e7b1d4e8f9a6c2b5d8e1f7a30"],
    )


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    responses=problem_responses(401, 403, 404, 422),
    summary="Ask the prefecture and the agency whom they gave this resident's record",
    description="A disclosure request (提供状況の開示) made at the counter: the prefecture "
    "and the agency are asked, by message, whom they provided the resident's record to; "
    "their answers arrive later. Answers the request's id and status `requested`." + _WHO,
)
async def request(body: DisclosureRequestIn, session: SessionDep, node: NodeDep) -> dict[str, str]:
    disclosure = await service.request_disclosure(session, node, body.resident_id)
    return {"id": disclosure.id, "status": "requested"}


@router.get(
    "/{disclosure_id}",
    responses=problem_responses(401, 403, 404),
    summary="The answers so far",
    description="The request (id, resident id, when asked), whether every tier has "
    "answered (`complete`) and each tier's answer so far: the provisions it logged." + _WHO,
)
async def read(disclosure_id: DisclosureId, session: SessionDep, node: NodeDep) -> dict[str, Any]:
    return await service.disclosure_view(session, node, disclosure_id)


@router.get(
    "/{disclosure_id}/document",
    response_class=Response,
    responses={
        200: {"content": {"application/pdf": {}}, "description": "The disclosure"},
        **problem_responses(401, 403, 404, NotYetAnswered),
    },
    summary="The disclosure printed for the resident (PDF), once every tier has answered",
    description="The disclosure as a PDF for the resident: all of it once the prefecture "
    "and the agency have both answered, nothing before (409)." + _WHO,
)
async def document(disclosure_id: DisclosureId, session: SessionDep, node: NodeDep) -> Response:
    pdf = await service.disclosure_document(session, node, disclosure_id)
    headers = {"Content-Disposition": f'inline; filename="disclosure-{disclosure_id}.pdf"'}
    return Response(pdf, media_type="application/pdf", headers=headers)
