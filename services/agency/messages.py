"""What the agency accepts over the bus: forwarded changes from prefectures, disclosure
requests, resident-code refill requests and individual-number requests from
municipalities."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy.ext.asyncio import AsyncSession

from agency.changes import FORWARD_BATCH, apply_forward
from agency.codes import answer_refill
from agency.models import bus, lookups, records
from agency.numbers import answer_number_requests, number_key
from jukinet.contracts.codepool import CODE_REFILL_REQUEST_BATCH
from jukinet.contracts.mynumber import NUMBER_REQUEST_BATCH
from jukinet.contracts.principals import Principal, PrincipalKind
from jukinet.envelope import Opener, SignedMessage
from jukinet.lookups import DISCLOSURE_REQUEST_BATCH, answer_disclosures
from jukinet.node.router import MessageRouter, Senders
from jukinet.pki import utcnow

__all__ = ["message_router"]


def message_router(_: Principal, signing_key: ed25519.Ed25519PrivateKey) -> MessageRouter:
    router = MessageRouter("the agency does not accept")

    async def disclosures(session: AsyncSession, message: SignedMessage, _: Opener) -> None:
        await answer_disclosures(
            session, message, records=records, lookups=lookups, bus=bus,
            signing_key=signing_key, now=utcnow(),
        )  # fmt: skip

    async def refill(session: AsyncSession, message: SignedMessage, _: Opener) -> None:
        await answer_refill(session, message, now=utcnow())

    key = number_key(signing_key)

    async def numbers(session: AsyncSession, message: SignedMessage, _: Opener) -> None:
        await answer_number_requests(session, message, key, now=utcnow())

    router.register(
        FORWARD_BATCH,
        apply_forward,
        senders=Senders.kinds(PrincipalKind.PREFECTURE, detail="only prefectures forward changes"),
    )
    router.register(
        DISCLOSURE_REQUEST_BATCH,
        disclosures,
        senders=Senders.kinds(
            PrincipalKind.MUNICIPALITY, detail="only municipalities request disclosures"
        ),
    )
    router.register(
        CODE_REFILL_REQUEST_BATCH,
        refill,
        senders=Senders.kinds(
            PrincipalKind.MUNICIPALITY, detail="only municipalities are designated codes"
        ),
    )
    router.register(
        NUMBER_REQUEST_BATCH,
        numbers,
        senders=Senders.kinds(
            PrincipalKind.MUNICIPALITY, detail="only municipalities assign individual numbers"
        ),
    )
    return router
