"""Operator endpoints of a serving node: permissions in force, alerts, reinstatement."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel
from sqlalchemy import select

from jukinet.lookups._load import permissions_in_force
from jukinet.lookups._monitor import reinstate
from jukinet.lookups._store import LookupTables
from jukinet.node.deps import SessionDep, guard
from jukinet.node.problems import NotFound, problem_responses

__all__ = ["Alert", "lookup_admin_router"]


class Alert(BaseModel):
    id: int
    at: dt.datetime
    client: str
    rule: str
    detail: str
    suspended: bool


def lookup_admin_router(tables: LookupTables) -> APIRouter:
    router = APIRouter(prefix="/lookup-admin", tags=["lookup administration"])
    router.dependencies.append(guard("lookups.admin"))

    @router.get("/permissions", summary="The permission table in force")
    async def permissions(session: SessionDep) -> list[dict[str, Any]]:
        return await permissions_in_force(session, tables)

    @router.get("/alerts", summary="Suspicious-pattern alerts, newest first")
    async def alerts(
        session: SessionDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100
    ) -> list[Alert]:
        a = tables.alerts
        rows = await session.execute(select(a).order_by(a.c.id.desc()).limit(limit))
        return [Alert.model_validate(dict(r._mapping)) for r in rows]

    @router.post(
        "/clients/{client}/reinstate",
        responses=problem_responses(401, 404),
        summary="Lift a client's suspension",
    )
    async def reinstate_client(
        client: Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")],
        session: SessionDep,
        request: Request,
    ) -> dict[str, str]:
        if not await reinstate(session, tables, client):
            raise NotFound("no suspended client by that id")
        return {"client": client, "status": "reinstated"}

    return router
