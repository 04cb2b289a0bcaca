"""Handing a resident their card (個人番号カードの交付): the town registers the public half
of the key only the resident holds. A new card revokes the one before."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from jukinet.node.problems import Conflict
from municipal.models import ResidentCard

__all__ = ["CardTaken", "active_card", "issue_card", "revoke_cards"]


class CardTaken(Conflict):
    type = "card-taken"
    title = "That card is registered already"


async def issue_card(
    session: AsyncSession, resident_id: str, public_key: str, now: dt.datetime
) -> ResidentCard:
    if await session.get(ResidentCard, public_key) is not None:
        raise CardTaken("a card with this key is registered already (a card is handed once)")
    await revoke_cards(session, resident_id, now)
    card = ResidentCard(public_key=public_key, resident_id=resident_id, issued_at=now)
    session.add(card)
    return card


async def revoke_cards(session: AsyncSession, resident_id: str, now: dt.datetime) -> None:
    await session.execute(
        update(ResidentCard)
        .where(ResidentCard.resident_id == resident_id, ResidentCard.revoked_at.is_(None))
        .values(revoked_at=now)
    )


async def active_card(session: AsyncSession, public_key: str) -> ResidentCard | None:
    card: ResidentCard | None = await session.scalar(
        select(ResidentCard).where(
            ResidentCard.public_key == public_key, ResidentCard.revoked_at.is_(None)
        )
    )
    return card
