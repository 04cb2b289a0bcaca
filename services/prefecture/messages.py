"""What a prefecture accepts over the bus: changes, code designations passed on, migrated
codes and disclosure requests — all from its own municipalities."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy.ext.asyncio import AsyncSession

from jukinet.contracts.codepool import CODE_DESIGNATED_BATCH, CODES_MIGRATED_BATCH
from jukinet.contracts.principals import Principal
from jukinet.envelope import Opener, SignedMessage
from jukinet.lookups import DISCLOSURE_REQUEST_BATCH, answer_disclosures
from jukinet.node.router import MessageRouter, Senders
from jukinet.pki import utcnow
from prefecture.changes import (
    CHANGE_BATCH,
    REPAIR_BATCH,
    accepts_from,
    apply_changes_message,
    apply_repair_message,
)
from prefecture.codes import learn_designations, learn_migrated
from prefecture.models import bus, lookups, records

__all__ = ["message_router"]


def message_router(node: Principal, signing_key: ed25519.Ed25519PrivateKey) -> MessageRouter:
    router = MessageRouter("a prefecture does not accept")
    towns = Senders(accepts_from(node), detail="only this prefecture's municipalities write here")

    async def designations(session: AsyncSession, message: SignedMessage, opener: Opener) -> None:
        await learn_designations(session, message, opener, now=utcnow())

    async def migrated(session: AsyncSession, message: SignedMessage, _: Opener) -> None:
        await learn_migrated(session, message, now=utcnow())

    async def repair(session: AsyncSession, message: SignedMessage, _: Opener) -> None:
        await apply_repair_message(session, message)

    async def disclosures(session: AsyncSession, message: SignedMessage, _: Opener) -> None:
        await answer_disclosures(
            session, message, records=records, lookups=lookups, bus=bus,
            signing_key=signing_key, now=utcnow(),
        )  # fmt: skip

    router.register(CHANGE_BATCH, apply_changes_message, senders=towns)
    router.register(CODE_DESIGNATED_BATCH, designations, senders=towns)
    router.register(CODES_MIGRATED_BATCH, migrated, senders=towns)
    router.register(REPAIR_BATCH, repair, senders=towns)
    router.register(DISCLOSURE_REQUEST_BATCH, disclosures, senders=towns)
    return router
