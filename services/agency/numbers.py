"""個人番号 generation (番号法第8条): the agency turns a resident code into the number to
assign, and answers the town that asked.

The number is ``HMAC-SHA256(key, resident code, attempt)`` reduced to eleven digits
(never starting with 0) and completed by the ordinance's check digit: it is obtained by
converting the resident code, yet nobody without the agency's key can restore the code
from it (同条第2項第2号・第3号). The key is derived from the agency's signing key. The
registry (``individual_numbers``) keeps every number ever generated, so a clash with any
of them — assigned or retired — takes the next attempt: a number is unique nationwide
and never issued twice. Asked again for the same resident, the agency answers the number
already assigned; asked because it leaked, it retires that one and generates another.

Only the town a code was designated to (or that holds the resident's record now) may
ask for its number.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
from collections.abc import Sequence

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from agency.models import CodeRegistryEntry, IndividualNumberEntry, NumberStatus, bus, records
from jukinet.bus import Rejected, enqueue
from jukinet.contracts.mynumber import (
    NUMBER_ASSIGNED,
    NumberAssigned,
    NumberWanted,
    individual_number_check_digit,
    parse_wanted,
)
from jukinet.contracts.principals import PrincipalKind
from jukinet.envelope import SignedMessage

__all__ = ["answer_number_requests", "follow_code_changes", "generate", "number_key"]

log = logging.getLogger("jukinet.agency.numbers")
_KEY_INFO = b"jukinet individual number v1"
MAX_ATTEMPTS = 64  # a clash in 9 x 10^10 numbers is rare; this only bounds a broken key
_SPAN = 9 * 10**10  # eleven-digit bodies 10000000000 .. 99999999999


def number_key(signing_key: ed25519.Ed25519PrivateKey) -> bytes:
    raw = signing_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return HKDF(hashes.SHA256(), 32, salt=None, info=_KEY_INFO).derive(raw)


def generate(key: bytes, resident_code: str, attempt: int) -> str:
    """The candidate number of ``resident_code`` at ``attempt`` (0 first)."""
    digest = hmac.new(key, f"{resident_code}:{attempt}".encode(), hashlib.sha256).digest()
    body = str(10**10 + int.from_bytes(digest[:16], "big") % _SPAN)
    return body + str(individual_number_check_digit(body))


async def answer_number_requests(
    session: AsyncSession, message: SignedMessage, key: bytes, *, now: dt.datetime
) -> None:
    """Answer each request of a town's message, sealed to that town alone, in the inbox
    transaction."""
    if message.issuer.kind is not PrincipalKind.MUNICIPALITY:
        raise Rejected("sender_not_permitted", "only municipalities assign numbers")
    town = message.issuer.code
    wanted = parse_wanted(message.payload)
    theirs = await _held_by(session, town, [w.resident_code for w in wanted])
    answers = [
        await _answer(session, key, town, w, now) if w.resident_code in theirs
        else NumberAssigned(resident_code=w.resident_code, refused="not_designated_here")
        for w in wanted
    ]  # fmt: skip
    for answer in answers:
        await enqueue(
            session, bus, recipient=message.issuer, message_type=NUMBER_ASSIGNED,
            payload=answer.model_dump(mode="json"), now=now,
        )  # fmt: skip
    refused = sum(1 for a in answers if a.refused)
    log.info(
        "individual numbers answered: municipality=%s message=%s assigned=%d refused=%d",
        town, message.message_id, len(answers) - refused, refused,
    )  # fmt: skip


async def _held_by(session: AsyncSession, town: str, codes: Sequence[str]) -> set[str]:
    """Which of ``codes`` are ``town``'s: designated to it, or its record now."""
    r = records.records
    designated = select(CodeRegistryEntry.code).where(
        CodeRegistryEntry.code.in_(codes), CodeRegistryEntry.municipality == town,
        CodeRegistryEntry.status == "designated",
    )  # fmt: skip
    held = select(r.c.resident_code).where(r.c.resident_code.in_(codes), r.c.municipality == town)
    return set(await session.scalars(designated)) | set(await session.scalars(held))


async def _answer(
    session: AsyncSession, key: bytes, town: str, wanted: NumberWanted, now: dt.datetime
) -> NumberAssigned:
    code = wanted.resident_code
    n = IndividualNumberEntry
    current = await session.scalar(
        select(n).where(n.resident_code == code, n.status == NumberStatus.ASSIGNED.value)
    )
    if current is not None and wanted.reason == "new":  # asked again: the same number
        return NumberAssigned(resident_code=code, individual_number=current.number)
    if current is not None:  # leaked: retired for ever, and replaced
        current.status, current.retired_at = NumberStatus.RETIRED.value, now
        await session.flush()
    number = await _fresh(session, key, code)
    assigned = NumberStatus.ASSIGNED.value
    entry = IndividualNumberEntry(
        number=number, resident_code=code, municipality=town, status=assigned, assigned_at=now
    )
    session.add(entry)
    await session.flush()
    return NumberAssigned(resident_code=code, individual_number=number)


async def _fresh(session: AsyncSession, key: bytes, code: str) -> str:
    """The first attempt's number that was never generated before."""
    n = IndividualNumberEntry
    for attempt in range(MAX_ATTEMPTS):
        candidate = generate(key, code, attempt)
        if await session.scalar(select(n.number).where(n.number == candidate)) is None:
            return candidate
    raise Rejected("no_number", "no fresh individual number could be generated")


async def follow_code_changes(session: AsyncSession, replaced: dict[str, str]) -> None:
    """After 住民票コード変更s (old code → new code), the person keeps their number."""
    n = IndividualNumberEntry
    for old, new in replaced.items():
        await session.execute(
            update(n)
            .where(n.resident_code == old, n.status == NumberStatus.ASSIGNED.value)
            .values(resident_code=new)
        )
