"""Operator endpoints of a serving node: permissions in force, alerts, reinstatement."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel
from sqlalchemy import select

from jukinet.api import OperatorAuth, SessionDep
from jukinet.lookups._load import permissions_in_force
from jukinet.lookups._monitor import reinstate
from jukinet.lookups._store import LookupTables
from jukinet.problems import NotFound, problem_responses

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
    router.dependencies.append(OperatorAuth)

    @router.get("/permissions", summary="The permission table in force")
    async def permissions(session: SessionDep) -> list[dict[str, Any]]:
        return await permissions_in_force(session, tables)

    @router.get("/alerts", summary="Suspicious-pattern alerts, newest first")
    async def alerts(session: SessionDep, limit: int = 100) -> list[Alert]:
        a = tables.alerts
        rows = await session.execute(select(a).order_by(a.c.id.desc()).limit(min(limit, 1000)))
        return [Alert.model_validate(dict(r._mapping)) for r in rows]

    @router.post(
        "/clients/{client}/reinstate",
        responses=problem_responses(401, 404),
        summary="Lift a client's suspension",
    )
    async def reinstate_client(
        client: str, session: SessionDep, request: Request
    ) -> dict[str, str]:
        if not await reinstate(session, tables, client):
            raise NotFound("no suspended client by that id")
        return {"client": client, "status": "reinstated"}

    return router
