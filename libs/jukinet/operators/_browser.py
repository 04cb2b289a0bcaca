"""Login and card enrolment from a browser (WebAuthn), with the same throttle, lockout
and operation-log entries as the API's login: what a counter UI calls."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from jukinet.operators._api import OperatorContext, record_operation
from jukinet.operators._auth import LoginResult, card_principal
from jukinet.operators._model import ANONYMOUS, Actor, Role
from jukinet.operators._routes import note_login
from jukinet.operators._webauthn import BrowserCard, WebAuthnTables, enrol_card, webauthn_login
from jukinet.pki import utcnow

__all__ = ["BrowserLogin", "browser_enrol", "browser_login"]


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
        result: LoginResult = await webauthn_login(
            session, ctx.tables, cards, ctx.node, ctx.policy, ctx.challenge_key, site,
            attempt, now,
        )  # fmt: skip
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
        failure = await enrol_card(
            session, ctx.tables, cards, ctx.node, ctx.policy, ctx.challenge_key, site,
            attempt, utcnow(),
        )  # fmt: skip
        role = await _role(session, ctx, slug) if failure is None else None
    if failure is None and role is not None:
        ctx.gate.succeeded(source)
        actor = Actor(card_principal(ctx.node, slug).uri, role, slug)
        await record_operation(ctx, actor, "operators.card_enrolled", slug, "ok")
        return None
    ctx.gate.failed(source)
    ctx.strangers.note(f"enrol_{failure}")
    return "failed"
