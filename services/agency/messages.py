"""What the agency accepts over the bus: forwarded changes from prefectures, disclosure
requests and resident-code refill requests from municipalities."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy.ext.asyncio import AsyncSession

from agency.changes import FORWARD_BATCH, apply_forward
from agency.codes import answer_refill
from agency.models import bus, lookups, records
from jukinet.bus import Apply, Rejected
from jukinet.contracts.codepool import CODE_REFILL_REQUEST_BATCH
from jukinet.contracts.principals import Principal, PrincipalKind
from jukinet.envelope import Opener, SignedMessage
from jukinet.lookups import DISCLOSURE_REQUEST_BATCH, answer_disclosures
from jukinet.pki import utcnow

__all__ = ["accepts", "make_apply"]


def accepts(sender: Principal) -> bool:
    return sender.kind in (PrincipalKind.PREFECTURE, PrincipalKind.MUNICIPALITY)


def make_apply(signing_key: ed25519.Ed25519PrivateKey) -> Apply:
    async def apply(session: AsyncSession, message: SignedMessage, opener: Opener) -> None:
        if message.type == FORWARD_BATCH:
            await apply_forward(session, message, opener)
        elif message.type == DISCLOSURE_REQUEST_BATCH:
            await answer_disclosures(
                session, message, records=records, lookups=lookups, bus=bus,
                signing_key=signing_key, now=utcnow(),
            )  # fmt: skip
        elif message.type == CODE_REFILL_REQUEST_BATCH:
            await answer_refill(session, message, now=utcnow())
        else:
            raise Rejected("unsupported_type", f"the agency does not accept {message.type}")

    return apply
