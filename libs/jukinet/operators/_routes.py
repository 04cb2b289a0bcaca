"""Routes: login with password and IC card, logout; the administrator's operator list,
unlock and disable; the auditor's reading and verification of the operation log."""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated

from cryptography.hazmat.primitives.asymmetric import ed25519
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from jukinet.node.problems import NotFound, Problem, Unauthorized, problem_responses
from jukinet.node.session import SessionDep
from jukinet.operators._api import OperatorContext, OperatorsDep, guard, record_operation
from jukinet.operators._auth import LoginAttempt, LoginResult, issue_challenge, login, revoke_token
from jukinet.operators._manage import list_operators, set_state
from jukinet.operators._model import Actor
from jukinet.operators._oplog import verify_operations
from jukinet.pki import utcnow

__all__ = ["note_login", "operator_routers"]

_SLUG = r"^[a-z0-9][a-z0-9-]{0,39}$"
SessionActor = Annotated[Actor, guard("auth.session")]
Manager = Annotated[Actor, guard("operators.manage")]
Auditor = Annotated[Actor, guard("audit.read")]


class AuthenticationFailed(Unauthorized):
    type, title = "authentication-failed", "Authentication failed"


class OperatorLocked(Problem):
    status, type, title = 423, "operator-locked", "The operator is locked out"


class TooManyAttempts(Problem):
    status, type, title = 429, "too-many-attempts", "Too many login attempts from here"


class ChallengeOut(BaseModel):
    challenge_id: str
    challenge: str
    expires_at: dt.datetime


class LoginBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    operator: str = Field(pattern=_SLUG)
    password: str = Field(min_length=1, max_length=200)
    challenge_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    signature: str = Field(min_length=1, max_length=200)
    card_certificate: str = Field(min_length=1, max_length=8000)


class SessionOut(BaseModel):
    token: str
    operator: str
    role: str
    expires_at: dt.datetime


class OperatorOut(BaseModel):
    slug: str
    role: str
    disabled: bool
    locked_until: dt.datetime | None
    card_fingerprint: str


class OperationOut(BaseModel):
    seq: int
    at: dt.datetime
    actor: str
    role: str
    action: str
    target: str | None
    outcome: str
    hash: str


class VerifyOut(BaseModel):
    intact: bool
    checked: int
    broken_at: int | None
    problem: str | None


async def note_login(ctx: OperatorContext, slug: str, result: LoginResult) -> None:
    """An attempt the operator's own card signed is chained in the operation log; any
    other is a stranger's, counted by cause (a fixed word) and never chained."""
    if result.proven:
        outcome = "ok" if result.failure is None else f"failed:{result.failure}"
        await record_operation(ctx, result.actor, "auth.login", slug, outcome)
    else:
        ctx.strangers.note(f"login_{result.failure or 'failed'}")


def auth_router() -> APIRouter:
    router = APIRouter(prefix="/auth", tags=["operators"])

    @router.post("/challenge", summary="A one-time challenge for the IC card to sign")
    async def challenge(ctx: OperatorsDep) -> ChallengeOut:
        c = issue_challenge(ctx.challenge_key, ctx.node, ctx.policy, utcnow())
        return ChallengeOut(challenge_id=c.id, challenge=c.nonce, expires_at=c.expires_at)

    @router.post(
        "/login",
        responses=problem_responses(401, 413, 422, 423, 429),
        summary="Password and IC card",
    )
    async def do_login(body: LoginBody, request: Request, ctx: OperatorsDep) -> SessionOut:
        source = request.client.host if request.client is not None else "unknown"
        wait = ctx.gate.admit(source)
        if wait is not None:
            ctx.strangers.note("login_throttled")
            raise TooManyAttempts(
                "too many login attempts from this address; try again later",
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )
        attempt = LoginAttempt(**body.model_dump())
        async with ctx.sessions() as session, session.begin():
            result = await login(
                session, ctx.tables, ctx.node, ctx.trust, ctx.policy, ctx.challenge_key,
                attempt, utcnow(),
            )  # fmt: skip
        if result.token is None:
            ctx.gate.failed(source)
        else:
            ctx.gate.succeeded(source)
        await note_login(ctx, body.operator, result)
        if result.failure == "locked":
            raise OperatorLocked("too many failed attempts; ask an administrator or wait")
        if result.token is None or result.expires_at is None:
            raise AuthenticationFailed("password or IC card not accepted")
        role = result.actor.role.value
        return SessionOut(
            token=result.token, operator=body.operator, role=role, expires_at=result.expires_at
        )

    @router.post("/logout", status_code=204, summary="End this session")
    async def logout(
        request: Request, session: SessionDep, ctx: OperatorsDep, actor: SessionActor
    ) -> None:
        token = request.headers.get("authorization", "").partition(" ")[2]
        await revoke_token(session, ctx.tables, token)

    @router.get("/me", summary="Who this session belongs to")
    async def me(actor: SessionActor) -> dict[str, str | None]:
        return {"actor": actor.name, "role": actor.role.value, "operator": actor.operator}

    return router


def admin_router() -> APIRouter:
    router = APIRouter(prefix="/operators", tags=["operators"])

    @router.get("", summary="This office's operators")
    async def operators(session: SessionDep, ctx: OperatorsDep, _: Manager) -> list[OperatorOut]:
        rows = await list_operators(session, ctx.tables)
        return [OperatorOut.model_validate(r) for r in rows]

    @router.post("/{slug}/unlock", status_code=204, responses=problem_responses(403, 404))
    async def unlock(slug: str, session: SessionDep, ctx: OperatorsDep, _: Manager) -> None:
        if not await set_state(session, ctx.tables, slug):
            raise NotFound("no such operator")

    @router.post("/{slug}/disable", status_code=204, responses=problem_responses(403, 404))
    async def disable(slug: str, session: SessionDep, ctx: OperatorsDep, _: Manager) -> None:
        if not await set_state(session, ctx.tables, slug, disabled=True):
            raise NotFound("no such operator")

    return router


def audit_router() -> APIRouter:
    router = APIRouter(prefix="/audit", tags=["audit"])

    @router.get("/operations", summary="The operation log, oldest first")
    async def operations(
        session: SessionDep,
        ctx: OperatorsDep,
        _: Auditor,
        after: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[OperationOut]:
        log = ctx.tables.operation_log
        query = select(log).where(log.c.seq > after).order_by(log.c.seq).limit(limit)
        rows = await session.execute(query)
        return [OperationOut.model_validate(dict(r._mapping)) for r in rows]

    @router.get("/operations/verify", summary="Verify the operation log's chain")
    async def verify(session: SessionDep, ctx: OperatorsDep, _: Auditor) -> VerifyOut:
        keys: list[ed25519.Ed25519PublicKey] = [ctx.key.public_key()]
        report = await verify_operations(session, ctx.tables, keys)
        return VerifyOut(
            intact=report.intact,
            checked=report.checked,
            broken_at=report.broken_at,
            problem=report.problem,
        )

    return router


def operator_routers() -> list[APIRouter]:
    return [auth_router(), admin_router(), audit_router()]
