"""``POST /copies``: a clerk issues a certified copy of a resident of another municipality;
``POST /copies/own``: of a resident of this one (see :mod:`municipal.copies.own`).

The answer is the PDF itself. Refusals are problem+json with a ``reason`` code (404
not_found; 409 moved_out, deceased, deleted, ambiguous; 422 invalid_request,
own_municipality, unknown_municipality, unprintable; 502 bad_answer; 503 unreachable,
broker_unavailable, unavailable). The person is named in the body, never in the URL.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter
from fastapi.responses import Response

from jukinet.node.deps import AuditDep, StateDep, guard
from jukinet.node.problems import problem_responses
from jukinet.node.state import NodeState
from jukinet.operators import Actor
from municipal.copies.issue import (
    BadAnswer,
    CopyNotIssued,
    CopyRefused,
    Counter,
    HomeUnavailable,
    PersonNotFound,
    issue_copy,
)
from municipal.copies.own import (
    IssueOwnCopy,
    NoSuchResident,
    OwnCopyNotIssued,
    OwnCopyRefused,
    OwnCounter,
    issue_own_copy,
)
from municipal.copies.protocol import IssueCopy
from municipal.copies.settings import CopySettings

__all__ = ["router"]

router = APIRouter(prefix="/copies", tags=["copies"])
Issuer = Annotated[Actor, guard("copies.issue")]
PDF = "application/pdf"
_PDF_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {PDF: {}}, "description": "The certified copy (住民票の写し)"}
}


def _counter(state: NodeState) -> Counter:
    runtime = state.runtime
    settings = state.kept(CopySettings, CopySettings)  # built on first use, kept with the app
    return Counter(
        node=runtime.node,
        sessions=runtime.sessions,
        issuer=settings.issuer(runtime.node),
        timeout=settings.copy_timeout_seconds,
        nc=runtime.nc,
        sealer=runtime.sealer,
        opener=runtime.opener,
    )


@router.post(
    "",
    response_class=Response,
    responses={
        **_PDF_RESPONSE,
        **problem_responses(
            401, 403, PersonNotFound, CopyRefused, 422, CopyNotIssued, BadAnswer, HomeUnavailable
        ),
    },
    summary="Issue a certified copy of a resident registered elsewhere (広域交付)",
    description="Asks the home municipality, over the broker, for the record of the person "
    "the ID names, and answers the certified copy (住民票の写し) as a PDF. Clerks and "
    "supervisors only, having checked the person's ID. Every request is recorded in the "
    "issued-copies ledger, refused or failed ones too; refusals are problem+json with a "
    "`reason` code.",
)
async def issue(body: IssueCopy, state: StateDep, audit: AuditDep, actor: Issuer) -> Response:
    copy_id = uuid.uuid4().hex
    audit.name_target(copy_id)
    pdf = await issue_copy(_counter(state), body, actor, copy_id)
    headers = {"Content-Disposition": f'inline; filename="copy-{copy_id}.pdf"'}
    return Response(pdf, media_type=PDF, headers=headers)


@router.post(
    "/own",
    response_class=Response,
    responses={
        **_PDF_RESPONSE,
        **problem_responses(401, 403, NoSuchResident, OwnCopyRefused, 422, OwnCopyNotIssued),
    },
    summary="Issue a certified copy from this municipality's own register (本庁交付)",
    description="The certified copy of a live resident of this municipality, alone, with "
    "chosen members or the whole household (head first), as a PDF. Optional items (続柄, "
    "住民票コード, 本籍・筆頭者, 前住所) are printed only when asked. Clerks and supervisors "
    "only. The issued-copies ledger records every request (refusals too), the provisions "
    "ledger whom each copy showed; a household without a live head gets no copy until the "
    "世帯主変更 is recorded.",
)
async def issue_own(
    body: IssueOwnCopy, state: StateDep, audit: AuditDep, actor: Issuer
) -> Response:
    copy_id = uuid.uuid4().hex
    audit.name_target(copy_id)
    runtime = state.runtime
    settings = state.kept(CopySettings, CopySettings)
    counter = OwnCounter(runtime.node, runtime.sessions, settings.issuer(runtime.node))
    pdf = await issue_own_copy(counter, body, actor, copy_id)
    headers = {"Content-Disposition": f'inline; filename="copy-{copy_id}.pdf"'}
    return Response(pdf, media_type=PDF, headers=headers)
