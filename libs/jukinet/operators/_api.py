"""The operator HTTP surface: the guard every protected route uses, login with password
and IC card, operator administration and the auditor's view of the operation log.

The guard authenticates (an operator session, or the node's machine token), checks the
route's action against the actor's role, and writes the operation-log entry: in the
request's own transaction when the action succeeds, and in a fresh one (after the
request's transaction rolled back) when it is refused or fails.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, cast

from cryptography.hazmat.primitives.asymmetric import ed25519
from fastapi import Depends, FastAPI, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.responses import Response

from jukinet.contracts.principals import Principal
from jukinet.node.problems import Forbidden, Unauthorized
from jukinet.node.session import SessionDep
from jukinet.operators._auth import TOKEN_PREFIX, AuthPolicy, resolve_token
from jukinet.operators._model import SYSTEM, Actor, roles_for
from jukinet.operators._oplog import Operation, append_operation
from jukinet.operators._strangers import AnonymousFailures
from jukinet.operators._tables import OperatorTables
from jukinet.operators._throttle import LoginGate
from jukinet.pki import TrustStore, utcnow

__all__ = [
    "OperatorContext",
    "audit_refusal",
    "audit_target",
    "guard",
    "install_refusal_audit",
    "record_operation",
]

_bearer = HTTPBearer(auto_error=False)
_OPAQUE = re.compile(r"[A-Za-z0-9._:-]{1,64}")


@dataclass(frozen=True)
class OperatorContext:
    """What the operator surface of one office needs, kept in ``app.state.operators``."""

    tables: OperatorTables
    node: Principal
    key: ed25519.Ed25519PrivateKey
    trust: TrustStore
    api_token: str
    challenge_key: bytes
    strangers: AnonymousFailures
    policy: AuthPolicy = field(default_factory=AuthPolicy)
    gate: LoginGate = field(default_factory=LoginGate)


def guard(action: str) -> Any:
    """A route dependency: only roles allowed ``action`` pass; every attempt by a known
    actor is chained in the operation log, an anonymous one only counted."""
    allowed = roles_for(action)

    async def dependency(
        request: Request,
        session: SessionDep,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> AsyncIterator[Actor]:
        ctx: OperatorContext = request.app.state.operators
        target = _target(request)
        actor = await _authenticate(request, ctx, credentials)
        if actor is None:  # counted, not chained: anyone could send these without end
            ctx.strangers.note("no_credentials")
            raise Unauthorized("a valid operator session or node token is required")
        request.state.audit = (actor, action, target)
        if actor.role not in allowed:
            raise Forbidden(f"the {actor.role.value} role may not perform {action}")
        yield actor
        target = getattr(request.state, "audit_target", None) or target
        outcome = getattr(request.state, "audit_outcome", None) or "ok"
        entry = Operation.of(actor, action, target, outcome)
        await append_operation(session, ctx.tables, entry, ctx.key)
        # request.state.audit stays until the request's transaction commits (see
        # request_session): a failed commit is then logged as a failure

    return Depends(dependency, scope="function")


def audit_target(request: Request, target: str) -> None:
    """Name what a guarded action created (an opaque id) in its operation-log entry."""
    request.state.audit_target = target if _OPAQUE.fullmatch(target) else "(malformed)"


def audit_refusal(request: Request, status: int) -> None:
    """For a handler that answers a refusal without raising: log it as failed."""
    request.state.audit_outcome = f"failed:{status}"


def _target(request: Request) -> str | None:
    """The first path parameter, when it looks like an opaque id (URLs carry no personal
    data; anything else — a NUL byte, a name typed by mistake — is not copied)."""
    values = list(request.path_params.values())
    if not values:
        return None
    value = str(values[0])
    return value if _OPAQUE.fullmatch(value) else "(malformed)"


async def _authenticate(
    request: Request, ctx: OperatorContext, credentials: HTTPAuthorizationCredentials | None
) -> Actor | None:
    """In a short session of its own: the request's transaction takes no connection (on
    SQLite, no write lock) before the handler needs it."""
    if credentials is None:
        return None
    token = credentials.credentials
    if token.startswith(TOKEN_PREFIX):
        async with request.app.state.sessions() as session:
            return await resolve_token(session, ctx.tables, ctx.node, token, utcnow(), ctx.trust)
    if hmac.compare_digest(token.encode(), ctx.api_token.encode()):
        return SYSTEM
    return None


async def record_operation(
    request: Request, actor: Actor, action: str, target: str | None, outcome: str
) -> None:
    """Write one entry in a transaction of its own."""
    ctx: OperatorContext = request.app.state.operators
    async with request.app.state.sessions() as session, session.begin():
        await append_operation(
            session, ctx.tables, Operation.of(actor, action, target, outcome), ctx.key
        )


Handler = Callable[[Request, Exception], Awaitable[Response]]


def install_refusal_audit(app: FastAPI) -> None:
    """Wrap the exception handlers: a guarded action that was refused or failed is logged
    once its own transaction is gone (so the entry survives the rollback)."""
    for key, handler in list(app.exception_handlers.items()):
        app.exception_handlers[key] = _recording(cast(Handler, handler))


def _recording(handler: Handler) -> Handler:
    async def wrapped(request: Request, exc: Exception) -> Response:
        response = await handler(request, exc)
        pending = getattr(request.state, "audit", None)
        if pending is not None:
            request.state.audit = None
            actor, action, target = pending
            target = getattr(request.state, "audit_target", None) or target
            status = response.status_code
            outcome = f"refused:{status}" if status in (401, 403) else f"failed:{status}"
            await record_operation(request, actor, action, target, outcome)
        return response

    return wrapped
