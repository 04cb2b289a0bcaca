"""What every service's HTTP API shares: the dependencies a handler declares (the node's
state and runtime, the request transaction, the operator guard and the request's
operation-log entry) and the routes every node has: health, readiness, status and dead
letters."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from jukinet.node.problems import problem_responses
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
_OPERATIONS = " Administrators, auditors and the node's token only."
_LIMIT = Query(ge=1, le=1000, description="At most this many dead letters.", examples=[100])


def operations_router() -> APIRouter:
    """Health, readiness and dead letters: the same on every node."""
    router = APIRouter(tags=["operations"])

    @router.get(
        "/healthz",
        summary="Liveness",
        description='Answers `{"status": "ok"}` while the process serves requests; '
        "checks nothing else (see /readyz). No authentication.",
    )
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/readyz",
        summary="Readiness: database and broker",
        description="Whether the node can work: `ready`, and `database` (`ok`, or the "
        "error's class name) and `broker` (`ok` or `disconnected`). 200 when both are ok, "
        "503 with the same body otherwise. No authentication.",
        responses={503: {"description": "Not ready: the body says which part is not ok."}},
    )
    async def readyz(runtime: RuntimeDep) -> JSONResponse:
        state = await runtime.readiness()
        ready = all(value == "ok" for value in state.values())
        return JSONResponse({"ready": ready, **state}, status_code=200 if ready else 503)

    @router.get(
        "/status",
        dependencies=[OperatorAuth],
        responses=problem_responses(401, 403),
        summary="Counts, backlog, dead letters",
        description="Counts only, never personal data (what `jukinet status` shows): the "
        "node's principal, its record counts, the outbox backlog (`outbox_unsealed`, "
        "`outbox_unsent`, `outbox_undeliverable`), `inbox_received`, `dead_letters`, and "
        "the set-aside outbox items per reason (`outbox_undeliverable_reasons`)." + _OPERATIONS,
    )
    async def status(runtime: RuntimeDep) -> dict[str, Any]:
        return await runtime.status()

    @router.get(
        "/dead-letters",
        dependencies=[OperatorAuth],
        responses=problem_responses(401, 403, 422),
        summary="Recent dead letters",
        description="The messages the inbox refused (bad envelope, replay, sequence "
        "regression, a sender not permitted, a payload it could not apply), newest first: "
        "sender, stream position, message id, reason code and detail; never the content."
        + _OPERATIONS,
    )
    async def dead_letters(
        runtime: RuntimeDep, limit: Annotated[int, _LIMIT] = 100
    ) -> list[DeadLetter]:
        async with runtime.sessions() as session:
            rows = await BusRepository(session, runtime.spec.bus).dead_letters(limit)
            return [DeadLetter.model_validate(r._asdict()) for r in rows]

    return router


class DeadLetter(BaseModel):
    """A refused message: who sent it, why; never its content."""

    id: int = Field(description="The dead letter's number, in the order recorded.", examples=[42])
    received_at: dt.datetime = Field(
        description="When the inbox refused it (UTC).", examples=["2026-04-01T01:30:00Z"]
    )
    subject_sender: str = Field(
        description="The sender's node code as the broker subject names it (a local "
        "government code or slug; `?` when the subject was not a node's).",
        examples=["142034"],
    )
    stream_sequence: int = Field(
        description="The message's position in this node's broker stream (0 for one part "
        "of a message that was otherwise applied).",
        examples=[1187],
    )
    message_id: str | None = Field(
        description="The message's id, when the envelope could be opened.",
        examples=["3f2b9c1e8d4a4f6b9e0c7a5d2b1f8e6c"],
    )
    reason: str = Field(
        description="Why it was refused: a fixed code (for instance `replayed`, "
        "`sequence_regression`, `sender_not_permitted`, `invalid_payload`, `apply_failed`, "
        "or the envelope's own).",
        examples=["sender_not_permitted"],
    )
    detail: str = Field(
        description="The reason in words; never the message's content.",
        examples=["only this prefecture's municipalities write here"],
    )
