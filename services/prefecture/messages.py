"""What a prefecture accepts over the bus: changes, code designations passed on, migrated
codes and disclosure requests from its own municipalities."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy.ext.asyncio import AsyncSession

from jukinet.bus import Apply, Rejected
from jukinet.contracts.codepool import CODE_DESIGNATED_BATCH, CODES_MIGRATED_BATCH
from jukinet.envelope import Opener, SignedMessage
from jukinet.lookups import DISCLOSURE_REQUEST_BATCH, answer_disclosures
from jukinet.pki import utcnow
from prefecture.changes import (
    CHANGE_BATCH,
    REPAIR_BATCH,
    apply_changes_message,
    apply_repair_message,
)
from prefecture.codes import learn_designations, learn_migrated
from prefecture.models import bus, lookups, records

__all__ = ["make_apply"]


def make_apply(signing_key: ed25519.Ed25519PrivateKey) -> Apply:
    async def apply(session: AsyncSession, message: SignedMessage, opener: Opener) -> None:
        if message.type == CHANGE_BATCH:
            await apply_changes_message(session, message, opener)
        elif message.type == CODE_DESIGNATED_BATCH:
            await learn_designations(session, message, opener, now=utcnow())
        elif message.type == CODES_MIGRATED_BATCH:
            await learn_migrated(session, message, now=utcnow())
        elif message.type == REPAIR_BATCH:
            await apply_repair_message(session, message)
        elif message.type == DISCLOSURE_REQUEST_BATCH:
            await answer_disclosures(
                session, message, records=records, lookups=lookups, bus=bus,
                signing_key=signing_key, now=utcnow(),
            )  # fmt: skip
        else:
            raise Rejected("unsupported_type", f"a prefecture does not accept {message.type}")

    return apply
