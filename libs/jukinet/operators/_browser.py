"""Login and card enrolment from a browser (WebAuthn), with the same throttle, lockout
and operation-log entries as the API's login: what a counter UI calls."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field
from sqlalchemy import select
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


def enrolment_router(cards: WebAuthnTables) -> APIRouter:
    """The administrator's issuing of enrolment codes (for an office with a counter UI)."""
    router = APIRouter(prefix="/operators", tags=["operators"])

    @router.post(
        "/{slug}/enrolment",
        status_code=201,
        responses=problem_responses(401, 403, 404),
        summary="A one-time code for registering an operator's IC card in a browser",
        description="Issues a one-time code (valid 24 hours, replacing an unused one) with "
        "which the operator registers their IC card as a FIDO2 authenticator for the "
        "counter's browser login. Administrators only; logged in the operation log.",
    )
    async def issue(
        slug: Annotated[str, Path(pattern=SLUG, examples=["suzuki"],
                                  description="The operator's slug.")],
        session: SessionDep, ctx: OperatorsDep, _: Manager,
    ) -> EnrolmentOut:  # fmt: skip
        code = await issue_enrolment(session, ctx.tables, cards, slug, utcnow())
        if code is None:
            raise NotFound("no such operator")
        return EnrolmentOut(operator=slug, code=code)

    return router
