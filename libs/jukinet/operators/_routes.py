"""Routes: login with password and IC card, logout; the administrator's operator list,
unlock and disable; the auditor's reading and verification of the operation log."""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated

from cryptography.hazmat.primitives.asymmetric import ed25519
from fastapi import APIRouter, Path, Query, Request
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


_OPERATOR = "clerk-01"
_EXPIRES = "2026-04-01T01:32:00Z"
_CHALLENGE_ID = "0000000069cc75905e1d2c3b4a596877"
_HASH = "615d529ae623a975469bbf329227e8fcd6cebb6fe7915e82e4961d323b834e90"
_ROLE = "The operator's role: clerk, supervisor, auditor or administrator."


class ChallengeOut(BaseModel):
    """A one-time login challenge of this office, for the operator's IC card to sign."""

    challenge_id: str = Field(
        description="The challenge's id: 32 hex digits (its expiry and a random part), "
        "sent back in the login.",
        examples=[_CHALLENGE_ID],
    )
    challenge: str = Field(
        description="The nonce (64 hex digits) only this office could have made. The card "
        "signs, with Ed25519, `jukinet-operator-login`, the office's principal, "
        "`challenge_id` and this, joined by NUL bytes.",
        examples=["26bc1a7d1f18f5cbd78be6829bf5ed1c4f2be69b1f7e8632efad2ec2edbd28f3"],
    )
    expires_at: dt.datetime = Field(
        description="Until when a login may use it (UTC; two minutes by default).",
        examples=[_EXPIRES],
    )


class LoginBody(BaseModel):
    """An operator's login: the password, and the IC card's signature of a fresh
    challenge with the card's certificate."""

    model_config = ConfigDict(extra="forbid")

    operator: str = Field(
        pattern=_SLUG,
        description="The operator's slug at this office (lowercase letters, digits, "
        "hyphens; up to 40).",
        examples=[_OPERATOR],
    )
    password: str = Field(
        min_length=1,
        max_length=200,
        description="The operator's password (checked only once the card is accepted).",
        examples=["example-passphrase-0000"],
    )
    challenge_id: str = Field(
        pattern=r"^[0-9a-f]{32}$",
        description="The id of a challenge from /auth/challenge, unexpired and unused.",
        examples=[_CHALLENGE_ID],
    )
    signature: str = Field(
        min_length=1,
        max_length=200,
        description="Base64 of the card's Ed25519 signature over the challenge message.",
        examples=[
            "O7Eu2jwpjbXeJVl/VNkk8uF+eKJq2JU+2CGO5oLwu76QIeLzAJ0VLJEb8fJexoOpAnFBZnZ6+9jlvQ+wEk7Lig=="
        ],
    )
    card_certificate: str = Field(
        min_length=1,
        max_length=8000,
        description="The IC card's certificate (PEM), as the card presents it: issued by "
        "the federation CA to this operator of this office, valid and not revoked, and "
        "the card registered for the operator.",
        examples=["-----BEGIN CERTIFICATE-----\nMIIB...\n-----END CERTIFICATE-----\n"],
    )


class SessionOut(BaseModel):
    """An operator session: the bearer token for the routes the role may use."""

    token: str = Field(
        description="The session's bearer token (`Authorization: Bearer …`); shown once, "
        "stored only as a hash.",
        examples=["jks_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"],
    )
    operator: str = Field(description="The operator's slug.", examples=[_OPERATOR])
    role: str = Field(description=_ROLE, examples=["clerk"])
    expires_at: dt.datetime = Field(
        description="When the session ends (UTC; 30 minutes by default).",
        examples=["2026-04-01T02:00:00Z"],
    )


class OperatorOut(BaseModel):
    """An operator account of this office; never its password or certificate."""

    slug: str = Field(description="The operator's slug.", examples=[_OPERATOR])
    role: str = Field(description=_ROLE, examples=["clerk"])
    disabled: bool = Field(
        description="Whether the account is disabled (no login, no session).",
        examples=[False],
    )
    locked_until: dt.datetime | None = Field(
        description="Until when failed logins lock the account out (UTC), if they do.",
        examples=["2026-04-01T02:00:00Z"],
    )
    card_fingerprint: str = Field(
        description="SHA-256 (hex) of the registered IC card's certificate.",
        examples=["f55799f06b5b4117d471de6f7c40cd931bd3bd6aaf93672b071d911d9debd0b3"],
    )


class OperationOut(BaseModel):
    """One entry of the operation log (操作ログ): who did what, on what, with what outcome;
    hash-chained to the entry before and signed by the node."""

    seq: int = Field(description="The entry's sequence number, from 1.", examples=[1234])
    at: dt.datetime = Field(description="When (UTC).", examples=["2026-04-01T01:30:00Z"])
    actor: str = Field(
        description="The operator's principal (its IC card's), or `system` for the node's token.",
        examples=["spiffe://jukinet/operator/142034/clerk-01"],
    )
    role: str = Field(
        description="The actor's role then: an operator's, or `system`.", examples=["clerk"]
    )
    action: str = Field(
        description="The guarded action (for instance `residents.write`, `copies.issue`, "
        "`auth.login`).",
        examples=["residents.write"],
    )
    target: str | None = Field(
        description="What it acted on: an opaque id (a resident id, an operator slug), "
        "`(malformed)` for anything else; never a name or resident code.",
        examples=["9b2f4c1d7e8a4b3c9d0e1f2a3b4c5d6e"],
    )
    outcome: str = Field(
        description="`ok`, `refused:<status>` (401, 403) or `failed:<status or cause>`.",
        examples=["ok"],
    )
    hash: str = Field(
        description="SHA-256 (hex) over the sequence number, the previous hash and the fields.",
        examples=[_HASH],
    )


class VerifyOut(BaseModel):
    """The operation log's chain, checked from its first entry."""

    intact: bool = Field(description="Whether every entry checked out.", examples=[True])
    checked: int = Field(
        description="How many entries were checked before the end or the break.",
        examples=[1234],
    )
    broken_at: int | None = Field(
        description="The sequence number of the first entry that breaks the chain, if any.",
        examples=[None],
    )
    problem: str | None = Field(
        description="What breaks there: a missing or inserted entry, a broken link, "
        "altered content or a signature not by this node.",
        examples=[None],
    )


_SLUG_PATH = Path(description="The operator's slug.", examples=[_OPERATOR])
_AFTER = Query(
    ge=0, description="Only entries after this sequence number (0: from the first).", examples=[0]
)
_LIMIT = Query(ge=1, le=1000, description="At most this many entries.", examples=[100])
_OPERATORS = " Operators with a session only (clerks, supervisors, auditors, administrators)."
_MANAGER = " Administrators only (not the node's token)."
_AUDITOR = " Auditors only; the reading itself is logged."


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

    @router.post(
        "/challenge",
        summary="A one-time challenge for the IC card to sign",
        description="A fresh challenge of this office, for one login within two minutes; "
        "nothing is stored until a card signs it. No authentication.",
    )
    async def challenge(ctx: OperatorsDep) -> ChallengeOut:
        c = issue_challenge(ctx.challenge_key, ctx.node, ctx.policy, utcnow())
        return ChallengeOut(challenge_id=c.id, challenge=c.nonce, expires_at=c.expires_at)

    @router.post(
        "/login",
        responses=problem_responses(
            AuthenticationFailed, 413, 422, OperatorLocked, TooManyAttempts
        ),
        summary="Password and IC card",
        description="Opens an operator session: the IC card's certificate and its signature "
        "of an unused challenge of this office are checked first, then the password. Every "
        "failure (unknown operator, card not registered or not trusted, expired or replayed "
        "challenge, wrong password, disabled account) is the same 401. Failed passwords "
        "with the operator's own card count: five lock the account for 30 minutes (423, "
        "told only when card and password are right). Too many attempts from one address "
        "are answered 429 with Retry-After. Attempts signed by the operator's card are "
        "chained in the operation log. No authentication.",
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

    @router.post(
        "/logout",
        status_code=204,
        responses=problem_responses(401, 403),
        summary="End this session",
        description="Revokes the session token the request carries." + _OPERATORS,
    )
    async def logout(
        request: Request, session: SessionDep, ctx: OperatorsDep, actor: SessionActor
    ) -> None:
        token = request.headers.get("authorization", "").partition(" ")[2]
        await revoke_token(session, ctx.tables, token)

    @router.get(
        "/me",
        responses=problem_responses(401, 403),
        summary="Who this session belongs to",
        description="The session's `actor` (the operator's principal), `role` and "
        "`operator` (slug)." + _OPERATORS,
    )
    async def me(actor: SessionActor) -> dict[str, str | None]:
        return {"actor": actor.name, "role": actor.role.value, "operator": actor.operator}

    return router


def admin_router() -> APIRouter:
    router = APIRouter(prefix="/operators", tags=["operators"])

    @router.get(
        "",
        responses=problem_responses(401, 403),
        summary="This office's operators",
        description="Every operator account of this office, by slug: role, disabled, "
        "lockout and the registered card's fingerprint." + _MANAGER,
    )
    async def operators(session: SessionDep, ctx: OperatorsDep, _: Manager) -> list[OperatorOut]:
        rows = await list_operators(session, ctx.tables)
        return [OperatorOut.model_validate(r) for r in rows]

    @router.post(
        "/{slug}/unlock",
        status_code=204,
        responses=problem_responses(401, 403, 404),
        summary="Lift an operator's lockout",
        description="Clears the operator's failed logins and lockout (a disabled account "
        "stays disabled). Refused (404) when this office has no such operator." + _MANAGER,
    )
    async def unlock(
        slug: Annotated[str, _SLUG_PATH], session: SessionDep, ctx: OperatorsDep, _: Manager
    ) -> None:
        if not await set_state(session, ctx.tables, slug):
            raise NotFound("no such operator")

    @router.post(
        "/{slug}/disable",
        status_code=204,
        responses=problem_responses(401, 403, 404),
        summary="Disable an operator",
        description="Disables the account and ends its open sessions at once; it can no "
        "longer log in. Refused (404) when this office has no such operator." + _MANAGER,
    )
    async def disable(
        slug: Annotated[str, _SLUG_PATH], session: SessionDep, ctx: OperatorsDep, _: Manager
    ) -> None:
        if not await set_state(session, ctx.tables, slug, disabled=True):
            raise NotFound("no such operator")

    return router


def audit_router() -> APIRouter:
    router = APIRouter(prefix="/audit", tags=["audit"])

    @router.get(
        "/operations",
        responses=problem_responses(401, 403, 422),
        summary="The operation log, oldest first",
        description="Entries of the operation log after a sequence number, oldest first: "
        "page with `after` set to the last `seq` read." + _AUDITOR,
    )
    async def operations(
        session: SessionDep,
        ctx: OperatorsDep,
        _: Auditor,
        after: Annotated[int, _AFTER] = 0,
        limit: Annotated[int, _LIMIT] = 100,
    ) -> list[OperationOut]:
        log = ctx.tables.operation_log
        query = select(log).where(log.c.seq > after).order_by(log.c.seq).limit(limit)
        rows = await session.execute(query)
        return [OperationOut.model_validate(dict(r._mapping)) for r in rows]

    @router.get(
        "/operations/verify",
        responses=problem_responses(401, 403),
        summary="Verify the operation log's chain",
        description="Walks the whole chain (as `jukinet audit verify` does): each entry's "
        "place, link, hash and the node's signature; names the first entry that breaks "
        "it." + _AUDITOR,
    )
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
