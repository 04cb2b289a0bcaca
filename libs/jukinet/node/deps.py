"""What every service's HTTP API shares: the dependencies a handler declares (the node's
state and runtime, the request transaction, the operator guard and the request's
operation-log entry) and the routes every node has: health, readiness, status and dead
letters."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from jukinet.node.repository import BusRepository
from jukinet.node.session import SessionDep, TransactionDep
from jukinet.node.state import NodeDep, RuntimeDep, StateDep
from jukinet.operators import AuditDep, OperatorsDep, guard

__all__ = [
    "AuditDep",
    "DeadLetter",
    "NodeDep",
    "OperatorAuth",
    "OperatorsDep",
    "RuntimeDep",
    "SessionDep",
    "StateDep",
    "TransactionDep",
    "guard",
    "operations_router",
]

OperatorAuth = guard("operations")  # the default guard of operations routes


def operations_router() -> APIRouter:
    """Health, readiness and dead letters: the same on every node."""
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="Liveness")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary="Readiness: database and broker")
    async def readyz(runtime: RuntimeDep) -> JSONResponse:
        state = await runtime.readiness()
        ready = all(value == "ok" for value in state.values())
        return JSONResponse({"ready": ready, **state}, status_code=200 if ready else 503)

    @router.get("/status", dependencies=[OperatorAuth], summary="Counts, backlog, dead letters")
    async def status(runtime: RuntimeDep) -> dict[str, Any]:
        return await runtime.status()

    @router.get("/dead-letters", dependencies=[OperatorAuth], summary="Recent dead letters")
    async def dead_letters(
        runtime: RuntimeDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100
    ) -> list[DeadLetter]:
        async with runtime.sessions() as session:
            rows = await BusRepository(session, runtime.spec.bus).dead_letters(limit)
            return [DeadLetter.model_validate(r._asdict()) for r in rows]

    return router


class DeadLetter(BaseModel):
    """A refused message: who sent it, why; never its content."""

    id: int
    received_at: dt.datetime
    subject_sender: str
    stream_sequence: int
    message_id: str | None
    reason: str
    detail: str
