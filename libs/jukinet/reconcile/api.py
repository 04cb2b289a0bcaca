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
    """Which municipality's records to reconcile."""

    model_config = ConfigDict(extra="forbid")
    municipality: LgCode = Field(
        description="The municipality's 6-digit local government code (全国地方公共団体コード), "
        "with its check digit.",
        examples=["142034"],
    )


class EntriesRequest(DigestRequest):
    """Which municipality's records, in which code bucket."""

    bucket: str = Field(
        pattern=r"^\d\d$",
        description="The bucket: the first two digits of the resident codes (00 to 99).",
        examples=["12"],
    )


class Digests(BaseModel):
    """A municipality's records as this node holds them, one digest per code bucket."""

    municipality: str = Field(
        description="The municipality's local government code.", examples=["142034"]
    )
    count: int = Field(description="How many records the digests cover.", examples=[51234])
    digests: dict[str, str] = Field(
        description="Per non-empty bucket (the first two digits of the resident codes), "
        "SHA-256 (hex) over its entries in code order; a bucket that differs between two "
        "tiers holds drift.",
        examples=[{"12": "3a7bd3e2360a3d29eea436fcfb7e44c735d117c42d1c1835420b6b9942dd4f1b"}],
    )


_WHO = (
    " Retired codes and moved-out records are left out; a municipality answers only for "
    "its own code (403 otherwise). Administrators and the node's token only."
)


def reconcile_router(source: EntrySource) -> APIRouter:
    router = APIRouter(
        prefix="/reconcile", tags=["reconciliation"], dependencies=[guard("reconcile")]
    )

    @router.post(
        "/digests",
        responses=problem_responses(401, 403, 422),
        summary="Per-bucket digests",
        description="Digests of the municipality's records as this node holds them, per "
        "code bucket, and their count: compared across tiers (整合性確認), they show which "
        "buckets differ without sending the records." + _WHO,
    )
    async def bucket_digests(body: DigestRequest, session: SessionDep) -> Digests:
        entries = await source(session, body.municipality, None)
        return Digests(municipality=body.municipality, count=len(entries), digests=digests(entries))

    @router.post(
        "/entries",
        responses=problem_responses(401, 403, 422),
        summary="One bucket's entries",
        description="The entries of one code bucket, in code order: each record's resident "
        "code, version, status and fingerprint (no other personal data), to name the "
        "missing, extra and differing codes of a bucket whose digests differ." + _WHO,
    )
    async def bucket_entries(body: EntriesRequest, session: SessionDep) -> list[Entry]:
        return await source(session, body.municipality, body.bucket)

    return router
