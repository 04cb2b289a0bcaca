"""What every service's HTTP API shares: the operator token, health and readiness."""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from jukinet.problems import Unauthorized

__all__ = ["DeadLetter", "OperatorAuth", "SessionDep", "operations_router", "require_operator"]

_bearer = HTTPBearer(auto_error=False)


async def require_operator(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """The node's API token, compared in constant time. (Per-operator IC-card sessions
    replace this in the counter work; the token stays for machine access by operations.)"""
    expected: str = request.app.state.api_token
    given = credentials.credentials if credentials is not None else ""
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise Unauthorized("a valid operator token is required")


OperatorAuth = Depends(require_operator)


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request is the transaction: commit when the handler returns (before the
    response is sent, so a failed commit is never reported as success), roll back when
    it raises; then wake the outbox relay."""
    async with request.app.state.sessions() as session, session.begin():
        yield session
    runtime = getattr(request.app.state, "runtime", None)
    if runtime is not None:
        runtime.notify_outbox()


SessionDep = Annotated[AsyncSession, Depends(_session, scope="function")]


def operations_router() -> APIRouter:
    """Health, readiness and dead letters: the same on every node."""
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="Liveness")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary="Readiness: database and broker")
    async def readyz(request: Request) -> JSONResponse:
        state = await request.app.state.runtime.readiness()
        ready = all(value == "ok" for value in state.values())
        return JSONResponse({"ready": ready, **state}, status_code=200 if ready else 503)

    @router.get("/status", dependencies=[OperatorAuth], summary="Counts, backlog, dead letters")
    async def status(request: Request) -> dict[str, Any]:
        result: dict[str, Any] = await request.app.state.runtime.status()
        return result

    @router.get("/dead-letters", dependencies=[OperatorAuth], summary="Recent dead letters")
    async def dead_letters(
        request: Request, limit: Annotated[int, Query(ge=1, le=1000)] = 100
    ) -> list[DeadLetter]:
        runtime = request.app.state.runtime
        t = runtime.spec.bus.dead_letters
        async with runtime.sessions() as session:
            rows = await session.execute(select(t).order_by(t.c.id.desc()).limit(limit))
            return [DeadLetter.model_validate(dict(r._mapping)) for r in rows]

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
