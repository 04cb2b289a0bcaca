"""The operator HTTP surface: the guard every protected route uses, login with password
and IC card, operator administration and the auditor's view of the operation log.

The guard authenticates (an operator session, or the node's machine token), checks the
route's action against the actor's role, and opens the request's operation-log entry
(:class:`AuditEntry`). The entry is written in the request's own transaction when the
action succeeds, and in a fresh one (after the request's transaction rolled back) when
it is refused or fails — the guard, the handler, the request's validation or the commit.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Annotated

from cryptography.hazmat.primitives.asymmetric import ed25519
from fastapi import Depends, Request, params
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jukinet.contracts.principals import Principal
from jukinet.node.problems import Forbidden, Unauthorized, status_of
from jukinet.node.session import TransactionDep
from jukinet.node.state import AppSlot
from jukinet.operators._auth import TOKEN_PREFIX, AuthPolicy, resolve_token
from jukinet.operators._model import SYSTEM, Actor, roles_for
from jukinet.operators._oplog import Operation, append_operation
from jukinet.operators._strangers import AnonymousFailures
from jukinet.operators._tables import OperatorTables
from jukinet.operators._throttle import LoginGate
from jukinet.pki import TrustStore, utcnow

__all__ = [
    "OPERATORS",
    "AuditDep",
    "AuditEntry",
    "OperatorContext",
    "OperatorsDep",
    "guard",
    "record_operation",
]

_bearer = HTTPBearer(auto_error=False)
_OPAQUE = re.compile(r"[A-Za-z0-9._:-]{1,64}")


@dataclass(frozen=True)
class OperatorContext:
    """What the operator surface of one office needs, while the node runs (its lifespan
    puts it in :data:`OPERATORS`)."""

    sessions: async_sessionmaker[AsyncSession]  # short transactions of their own
    tables: OperatorTables
    node: Principal
    key: ed25519.Ed25519PrivateKey
    trust: TrustStore
    api_token: str
    challenge_key: bytes
    strangers: AnonymousFailures
    policy: AuthPolicy = field(default_factory=AuthPolicy)
    gate: LoginGate = field(default_factory=LoginGate)


class AuditEntry:
    """The operation-log entry of one request: the guard opens it (who, which action, on
    what); the handler may name what the action created, or log a refusal it answered
    without raising. One per request, shared by the guard and the handler."""

    def __init__(self) -> None:
        self._actor: Actor | None = None
        self._action = ""
        self._target: str | None = None
        self._outcome: str | None = None

    def open(self, actor: Actor, action: str, target: str | None) -> None:
        if self._actor is not None and self._action != action:
            raise RuntimeError(f"one guard per route: {self._action} and {action}")
        self._actor, self._action, self._target = actor, action, target

    def name_target(self, target: str) -> None:
        """Name what the guarded action created (an opaque id) in its entry."""
        self._target = target if _OPAQUE.fullmatch(target) else "(malformed)"

    def refused(self, status: int) -> None:
        """For a handler that answers a refusal without raising: log it as failed."""
        self._outcome = f"failed:{status}"

    def operation(self, outcome: str | None = None) -> Operation:
        """The entry as written: ``outcome``, else the handler's refusal, else ok."""
        if self._actor is None:
            raise RuntimeError("the route is not guarded: there is no entry to write")
        return Operation.of(
            self._actor, self._action, self._target, outcome or self._outcome or "ok"
        )


async def _audit_entry() -> AuditEntry:
    return AuditEntry()


OPERATORS: AppSlot[OperatorContext] = AppSlot("operators", OperatorContext)


async def _operators(request: Request) -> OperatorContext:
    return OPERATORS.of(request.app)


AuditDep = Annotated[AuditEntry, Depends(_audit_entry)]
OperatorsDep = Annotated[OperatorContext, Depends(_operators)]
_guards: dict[str, params.Depends] = {}


def guard(action: str) -> params.Depends:
    """A route dependency yielding the :class:`Actor`: only roles allowed ``action`` pass;
    every attempt by a known actor is chained in the operation log, an anonymous one only
    counted. Use it in ``dependencies=[guard(...)]`` or as ``Annotated[Actor, guard(...)]``
    (one dependency per action, so a route that names it twice runs it once)."""
    found = _guards.get(action)
    if found is None:
        found = _guards[action] = params.Depends(_guard(action), scope="function")
    return found


def _guard(action: str) -> Callable[..., AsyncIterator[Actor]]:
    allowed = roles_for(action)

    async def dependency(
        request: Request,
        ctx: OperatorsDep,
        transaction: TransactionDep,
        entry: AuditDep,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> AsyncIterator[Actor]:
        actor = await _authenticate(ctx, credentials)
        if actor is None:  # counted, not chained: anyone could send these without end
            ctx.strangers.note("no_credentials")
            raise Unauthorized("a valid operator session or node token is required")
        entry.open(actor, action, _target(request))

        async def failed(exc: Exception) -> None:  # after the rollback
            status = status_of(exc)
            outcome = f"refused:{status}" if status in (401, 403) else f"failed:{status}"
            await _write(ctx, entry.operation(outcome))

        transaction.on_failure(failed)
        if actor.role not in allowed:
            raise Forbidden(f"the {actor.role.value} role may not perform {action}")
        yield actor
        # in the request's transaction: a failed commit undoes it, and ``failed`` logs that
        await append_operation(transaction.session, ctx.tables, entry.operation(), ctx.key)

    return dependency


def _target(request: Request) -> str | None:
    """The first path parameter, when it looks like an opaque id (URLs carry no personal
    data; anything else — a NUL byte, a name typed by mistake — is not copied)."""
    values = list(request.path_params.values())
    if not values:
        return None
    value = str(values[0])
    return value if _OPAQUE.fullmatch(value) else "(malformed)"


async def _authenticate(
    ctx: OperatorContext, credentials: HTTPAuthorizationCredentials | None
) -> Actor | None:
    """In a short session of its own: the request's transaction takes no connection (on
    SQLite, no write lock) before the handler needs it."""
    if credentials is None:
        return None
    token = credentials.credentials
    if token.startswith(TOKEN_PREFIX):
        async with ctx.sessions() as session:
            return await resolve_token(session, ctx.tables, ctx.node, token, utcnow(), ctx.trust)
    if hmac.compare_digest(token.encode(), ctx.api_token.encode()):
        return SYSTEM
    return None


async def record_operation(
    ctx: OperatorContext, actor: Actor, action: str, target: str | None, outcome: str
) -> None:
    """Write one entry in a transaction of its own."""
    await _write(ctx, Operation.of(actor, action, target, outcome))


async def _write(ctx: OperatorContext, operation: Operation) -> None:
    async with ctx.sessions() as session, session.begin():
        await append_operation(session, ctx.tables, operation, ctx.key)
