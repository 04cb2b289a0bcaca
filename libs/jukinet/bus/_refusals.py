"""Dead-lettering one part of a message: an origin message inside a forward, one change
inside a batch, one notice among several. The message as a whole is applied; the part
is refused alone and recorded beside whole-message dead letters, with its reason and
the id of the signed message it came in — never its content.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy.ext.asyncio import AsyncSession

from jukinet.bus._tables import BusTables

__all__ = ["PART_REASONS", "PART_STREAM_SEQUENCE", "dead_letter_part"]

log = logging.getLogger("jukinet.bus.inbox")

PART_REASONS = "jukinet.dead_letter_parts"
"""Key in ``session.info`` of the reasons of the parts dead-lettered in this transaction,
which the inbox counts in its metric once the message that carried them is applied."""

PART_STREAM_SEQUENCE = 0
"""The stream position recorded for a part: the message it came in was applied (and is
in the inbox records), so no stream position is dead-lettered."""


async def dead_letter_part(
    session: AsyncSession,
    tables: BusTables,
    *,
    sender: str,
    message_id: str,
    reason: str,
    detail: str,
    now: dt.datetime,
) -> None:
    """Record that one part of a message from ``sender`` (a node code: the origin
    municipality for a forwarded change) was refused, in the inbox transaction."""
    log.error("dead letter: reason=%s from=%s part of message=%s", reason, sender, message_id)
    session.info.setdefault(PART_REASONS, []).append(reason)
    await session.execute(
        tables.dead_letters.insert().values(
            received_at=now,
            subject_sender=sender,
            stream_sequence=PART_STREAM_SEQUENCE,
            message_id=message_id,
            reason=reason[:64],
            detail=detail[:500],
        )
    )
