"""Login and card enrolment from a browser (WebAuthn), with the same throttle, lockout
and operation-log entries as the API's login: what a counter UI calls."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from jukinet.node.problems import NotFound, problem_responses
from jukinet.node.session import SessionDep
from jukinet.operators._api import OperatorContext, OperatorsDep, guard, record_operation
from jukinet.operators._auth import LoginResult, card_principal
from jukinet.operators._model import ANONYMOUS, Actor, Role
from jukinet.operators._routes import note_login
from jukinet.operators._webauthn import (
    BrowserCard,
    CardOffice,
    WebAuthnTables,
    enrol_card,
    issue_enrolment,
    webauthn_login,
)
from jukinet.pki import utcnow

__all__ = [
    "AuthenticatorOut",
    "BrowserLogin",
    "EnrolmentOut",
    "browser_enrol",
    "browser_login",
    "enrolment_router",
]

SLUG = r"^[a-z0-9][a-z0-9-]{0,39}$"
Manager = Annotated[Actor, guard("operators.manage")]


def _office(ctx: OperatorContext, cards: WebAuthnTables, site: BrowserCard) -> CardOffice:
    return CardOffice(ctx.tables, cards, ctx.node, ctx.policy, ctx.challenge_key, site, ctx.trust)


async def _role(session: AsyncSession, ctx: OperatorContext, slug: str) -> Role | None:
    t = ctx.tables.operators
    row = (await session.execute(select(t.c.role).where(t.c.slug == slug))).first()
    return None if row is None else Role(row.role)


@dataclass(frozen=True)
class BrowserLogin:
    """``token`` on success; otherwise why not, in one word the page translates:
    ``throttled`` (too many attempts from this address; ``retry_after`` seconds),
    ``locked`` or ``failed`` (the same for every other cause)."""

    token: str | None
    refusal: str | None
    actor: Actor = ANONYMOUS
    seconds: int = 0
    retry_after: float = 0.0


async def browser_login(
    ctx: OperatorContext, cards: WebAuthnTables, site: BrowserCard, source: str,
    attempt: dict[str, Any],
) -> BrowserLogin:  # fmt: skip
    wait = ctx.gate.admit(source)
    if wait is not None:
        ctx.strangers.note("login_throttled")
        return BrowserLogin(None, "throttled", retry_after=wait)
    now = utcnow()
    async with ctx.sessions() as session, session.begin():
        result: LoginResult = await webauthn_login(session, _office(ctx, cards, site), attempt, now)
    (ctx.gate.failed if result.token is None else ctx.gate.succeeded)(source)
    await note_login(ctx, str(attempt.get("operator", "")), result)
    if result.failure == "locked":
        return BrowserLogin(None, "locked")
    if result.token is None or result.expires_at is None:
        return BrowserLogin(None, "failed")
    seconds = int((result.expires_at - now).total_seconds())
    return BrowserLogin(result.token, None, result.actor, seconds)


async def browser_enrol(
    ctx: OperatorContext, cards: WebAuthnTables, site: BrowserCard, source: str,
    attempt: dict[str, Any],
) -> str | None:  # fmt: skip
    """Register the card; None on success, else ``throttled`` or ``failed``. Counted like
    logins (a code is a secret to guess); an enrolment is chained in the operation log
    once the operator's password and code were right."""
    if ctx.gate.admit(source) is not None:
        ctx.strangers.note("enrol_throttled")
        return "throttled"
    slug = str(attempt.get("operator", ""))
    async with ctx.sessions() as session, session.begin():
        failure = await enrol_card(session, _office(ctx, cards, site), attempt, utcnow())
        role = await _role(session, ctx, slug) if failure is None else None
    if failure is None and role is not None:
        ctx.gate.succeeded(source)
        actor = Actor(card_principal(ctx.node, slug).uri, role, slug)
        await record_operation(ctx, actor, "operators.card_enrolled", slug, "ok")
        return None
    ctx.gate.failed(source)
    ctx.strangers.note(f"enrol_{failure}")
    return "failed"


class EnrolmentOut(BaseModel):
    """A one-time enrolment code, issued to an administrator for one operator."""

    operator: str = Field(description="The operator the code is for.", examples=["suzuki"])
    code: str = Field(
        description="The one-time code (valid 24 hours) with which the operator registers "
        "their IC card at the counter's /ui/enrol; give it to them alone.",
        examples=["3F2A-9C01-B7D4-E855"],
    )


class AuthenticatorOut(BaseModel):
    """An IC card registered for an operator's browser login (a FIDO2 authenticator)."""

    id: str = Field(
        description="The credential's id (base64url), as the authenticator names itself.",
        examples=["q1w2e3r4t5y6u7i8o9p0aZsXdCfVgBhN"],
    )
    card_fingerprint: str = Field(
        description="SHA-256 of the IC card certificate it was enrolled for: it works "
        "only while that card is the operator's.",
        examples=["9f2c" * 16],
    )
    created_at: dt.datetime = Field(
        description="When it was enrolled (UTC).", examples=["2026-11-29T01:23:45Z"]
    )
    last_used_at: dt.datetime | None = Field(
        description="Its last login (UTC), if any.", examples=["2026-11-29T02:00:00Z"]
    )


Slug = Annotated[str, Path(pattern=SLUG, examples=["suzuki"], description="The operator's slug.")]


def enrolment_router(cards: WebAuthnTables) -> APIRouter:
    """The administrator's side of browser cards (for an office with a counter UI):
    enrolment codes, the cards registered, their revocation."""
    router = APIRouter(prefix="/operators", tags=["operators"])
    c = cards.credentials

    @router.get(
        "/{slug}/authenticators",
        responses=problem_responses(401, 403),
        summary="The IC cards registered for an operator's browser login",
        description="Every FIDO2 authenticator enrolled for the operator, oldest first. "
        "Administrators only; logged in the operation log.",
    )
    async def registered(slug: Slug, session: SessionDep, _: Manager) -> list[AuthenticatorOut]:
        rows = await session.execute(
            select(c.c.credential_id, c.c.card_fingerprint, c.c.created_at, c.c.last_used_at)
            .where(c.c.operator == slug)
            .order_by(c.c.created_at)
        )
        return [
            AuthenticatorOut(id=r.credential_id, card_fingerprint=r.card_fingerprint,
                             created_at=r.created_at, last_used_at=r.last_used_at)
            for r in rows
        ]  # fmt: skip

    @router.post(
        "/{slug}/authenticators/{credential_id}/revoke",
        status_code=204,
        responses=problem_responses(401, 403, 404),
        summary="Revoke one registered browser card",
        description="The authenticator no longer logs the operator in (a lost card, a "
        "workstation handed back); sessions already open end with their own expiry. "
        "Administrators only; logged in the operation log.",
    )
    async def revoke(
        slug: Slug,
        credential_id: Annotated[str, Path(max_length=400, examples=["q1w2e3r4t5y6u7i8o9p0"],
                                           description="The credential's id.")],
        session: SessionDep, _: Manager,
    ) -> None:  # fmt: skip
        gone = await session.execute(
            delete(c).where(c.c.operator == slug, c.c.credential_id == credential_id)
        )
        if getattr(gone, "rowcount", 0) != 1:
            raise NotFound("no such card for this operator")

    @router.post(
        "/{slug}/enrolment",
        status_code=201,
        responses=problem_responses(401, 403, 404),
        summary="A one-time code for registering an operator's IC card in a browser",
        description="Issues a one-time code (valid 24 hours, replacing an unused one) with "
        "which the operator registers their IC card as a FIDO2 authenticator for the "
        "counter's browser login. Administrators only; logged in the operation log.",
    )
    async def issue(slug: Slug, session: SessionDep, ctx: OperatorsDep, _: Manager) -> EnrolmentOut:
        code = await issue_enrolment(session, ctx.tables, cards, slug, utcnow())
        if code is None:
            raise NotFound("no such operator")
        return EnrolmentOut(operator=slug, code=code)

    return router
