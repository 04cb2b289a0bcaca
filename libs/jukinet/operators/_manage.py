"""Managing an office's operators: used by the CLI (create, card) and the administrator's
API (list, unlock, disable)."""

from __future__ import annotations

from typing import Any

from argon2 import Parameters
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from jukinet.operators._auth import PASSWORD_PARAMETERS, hash_password
from jukinet.operators._model import Role
from jukinet.operators._tables import OperatorTables
from jukinet.pki import fingerprint, utcnow

__all__ = ["list_operators", "register_operator", "replace_card", "set_state"]


class OperatorExists(ValueError):
    pass


async def register_operator(
    session: AsyncSession,
    tables: OperatorTables,
    *,
    slug: str,
    role: Role,
    password: str,
    card: x509.Certificate,
    password_parameters: Parameters = PASSWORD_PARAMETERS,
) -> None:
    if role is Role.SYSTEM:
        raise ValueError("system is not an operator role")
    t = tables.operators
    if (await session.execute(select(t.c.slug).where(t.c.slug == slug))).first() is not None:
        raise OperatorExists(f"operator {slug} already exists")
    await session.execute(
        t.insert().values(
            slug=slug,
            role=role.value,
            password_hash=hash_password(password, password_parameters),
            card_certificate=_pem(card),
            card_fingerprint=fingerprint(card),
            failed_attempts=0,
            locked_until=None,
            disabled=False,
            created_at=utcnow(),
        )
    )


async def replace_card(
    session: AsyncSession, tables: OperatorTables, slug: str, card: x509.Certificate
) -> bool:
    """Register a new IC card (the old one stops working at once)."""
    t = tables.operators
    result = await session.execute(
        update(t)
        .where(t.c.slug == slug)
        .values(card_certificate=_pem(card), card_fingerprint=fingerprint(card))
    )
    await _end_sessions(session, tables, slug)
    return bool(getattr(result, "rowcount", 0))


async def _end_sessions(session: AsyncSession, tables: OperatorTables, slug: str) -> None:
    """A new card or a disabled account ends every session opened before."""
    s = tables.sessions
    await session.execute(update(s).where(s.c.operator == slug).values(revoked=True))


async def set_state(
    session: AsyncSession, tables: OperatorTables, slug: str, *, disabled: bool | None = None
) -> bool:
    """Unlock (clear failures and lockout) and optionally enable or disable."""
    t = tables.operators
    values: dict[str, Any] = {"failed_attempts": 0, "locked_until": None}
    if disabled is not None:
        values["disabled"] = disabled
    if disabled:
        await _end_sessions(session, tables, slug)
    result = await session.execute(update(t).where(t.c.slug == slug).values(values))
    return bool(getattr(result, "rowcount", 0))


async def list_operators(session: AsyncSession, tables: OperatorTables) -> list[dict[str, Any]]:
    t = tables.operators
    columns = [t.c.slug, t.c.role, t.c.disabled, t.c.locked_until, t.c.card_fingerprint]
    rows = await session.execute(select(*columns).order_by(t.c.slug))
    return [dict(r._mapping) for r in rows]


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()
