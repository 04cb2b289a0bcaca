"""The reconciliation endpoints every node serves to operations (operator token)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from jukinet.contracts.identity import LgCode
from jukinet.node.deps import SessionDep, guard
from jukinet.node.problems import problem_responses
from jukinet.reconcile.digests import Entry, digests

Reconciler = guard("reconcile")

__all__ = ["DigestRequest", "EntriesRequest", "EntrySource", "reconcile_router"]

EntrySource = Callable[[AsyncSession, str, str | None], Awaitable[list[Entry]]]


class DigestRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    municipality: LgCode


class EntriesRequest(DigestRequest):
    bucket: str = Field(pattern=r"^\d\d$")


class Digests(BaseModel):
    municipality: str
    count: int
    digests: dict[str, str]


def reconcile_router(source: EntrySource) -> APIRouter:
    router = APIRouter(
        prefix="/reconcile", tags=["reconciliation"], dependencies=[guard("reconcile")]
    )

    @router.post(
        "/digests", responses=problem_responses(401, 403, 422), summary="Per-bucket digests"
    )
    async def bucket_digests(body: DigestRequest, session: SessionDep) -> Digests:
        entries = await source(session, body.municipality, None)
        return Digests(municipality=body.municipality, count=len(entries), digests=digests(entries))

    @router.post(
        "/entries", responses=problem_responses(401, 403, 422), summary="One bucket's entries"
    )
    async def bucket_entries(body: EntriesRequest, session: SessionDep) -> list[Entry]:
        return await source(session, body.municipality, body.bucket)

    return router
