"""Operator endpoints of a serving node: permissions in force, alerts, reinstatement."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import select

from jukinet.lookups._load import permissions_in_force
from jukinet.lookups._monitor import reinstate
from jukinet.lookups._store import LookupTables
from jukinet.node.deps import SessionDep, guard
from jukinet.node.problems import NotFound, problem_responses

__all__ = ["Alert", "lookup_admin_router"]


class Alert(BaseModel):
    """A suspicious pattern in a lookup client's activity (one per rule and client per
    ten minutes)."""

    id: int = Field(description="The alert's number, in the order raised.", examples=[7])
    at: dt.datetime = Field(
        description="When the rule fired (UTC).", examples=["2026-04-01T01:30:00Z"]
    )
    client: str = Field(
        description="The lookup client's principal.",
        examples=["spiffe://jukinet/ministry/jpa-pension"],
    )
    rule: str = Field(
        description="The rule that fired: rate, many_residents, repeated_refusals or "
        "outside_hours.",
        examples=["repeated_refusals"],
    )
    detail: str = Field(
        description="The rule in words, with its limit.",
        examples=["20 or more refusals in ten minutes"],
    )
    suspended: bool = Field(
        description="Whether the rule suspended the client (until reinstated).", examples=[True]
    )


_CLIENT = Path(
    pattern=r"^[a-z0-9][a-z0-9-]{0,39}$",
    description="The lookup client's id in the permission table.",
    examples=["jpa-pension"],
)
_LIMIT = Query(ge=1, le=1000, description="At most this many alerts.", examples=[100])
_ADMIN = " Administrators (and the node's token) only."


def lookup_admin_router(tables: LookupTables) -> APIRouter:
    router = APIRouter(prefix="/lookup-admin", tags=["lookup administration"])
    router.dependencies.append(guard("lookups.admin"))

    @router.get(
        "/permissions",
        responses=problem_responses(401, 403),
        summary="The permission table in force",
        description="Every grant (client, affair, query kinds, fields, validity, daily "
        "quota) with its client's organisation, sector and suspension." + _ADMIN,
    )
    async def permissions(session: SessionDep) -> list[dict[str, Any]]:
        return await permissions_in_force(session, tables)

    @router.get(
        "/alerts",
        responses=problem_responses(401, 403, 422),
        summary="Suspicious-pattern alerts, newest first",
        description="The alerts the lookup monitor raised, newest first; by default a "
        "rate, many-residents or repeated-refusals alert suspends the client." + _ADMIN,
    )
    async def alerts(session: SessionDep, limit: Annotated[int, _LIMIT] = 100) -> list[Alert]:
        a = tables.alerts
        rows = await session.execute(select(a).order_by(a.c.id.desc()).limit(limit))
        return [Alert.model_validate(dict(r._mapping)) for r in rows]

    @router.post(
        "/clients/{client}/reinstate",
        responses=problem_responses(401, 403, 404, 422),
        summary="Lift a client's suspension",
        description="Lifts the suspension of a lookup client; the monitor's rules then "
        "look only at its activity after this. Refused (404) when no suspended client has "
        "that id." + _ADMIN,
    )
    async def reinstate_client(
        client: Annotated[str, _CLIENT],
        session: SessionDep,
        request: Request,
    ) -> dict[str, str]:
        if not await reinstate(session, tables, client):
            raise NotFound("no suspended client by that id")
        return {"client": client, "status": "reinstated"}

    return router
