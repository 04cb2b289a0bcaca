"""What a municipality accepts over the bus: disclosure answers and refusal notices from
its tiers, resident-code pools and individual numbers from the agency, move-in notices
and move-out certificates (転出届の特例) from any municipality."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from jukinet.bus import BATCH_TYPE_SUFFIX
from jukinet.contracts.codepool import CODE_POOL_BATCH
from jukinet.contracts.moveout import MOVE_OUT_CERTIFICATE_BATCH
from jukinet.contracts.mynumber import NUMBER_ASSIGNED_BATCH
from jukinet.contracts.principals import AGENCY, Principal, PrincipalKind
from jukinet.envelope import Opener, SignedMessage
from jukinet.node.router import MessageRouter, Senders
from jukinet.records.refusals import CHANGE_REFUSED
from municipal.codes import receive_codes
from municipal.disclosures.service import RESPONSE_BATCH, record_answers
from municipal.moveouts.certificate import receive_certificates
from municipal.moves import MOVE_IN_NOTICE_BATCH, apply_move_in_notices
from municipal.numbers import receive_numbers
from municipal.refusals import record_refusals

__all__ = ["REFUSED_BATCH", "message_router"]

REFUSED_BATCH = CHANGE_REFUSED + BATCH_TYPE_SUFFIX


def message_router(node: Principal) -> MessageRouter:
    router = MessageRouter("municipalities do not accept")
    tiers = (AGENCY, node.prefecture_of)

    async def answers(session: AsyncSession, message: SignedMessage, _: Opener) -> None:
        await record_answers(session, message)

    async def codes(session: AsyncSession, message: SignedMessage, _: Opener) -> None:
        await receive_codes(session, message)

    async def notices(session: AsyncSession, message: SignedMessage, _: Opener) -> None:
        await apply_move_in_notices(session, message.audience, message)

    async def certificates(session: AsyncSession, message: SignedMessage, _: Opener) -> None:
        await receive_certificates(session, node, message)

    async def refusals(session: AsyncSession, message: SignedMessage, _: Opener) -> None:
        await record_refusals(session, message)

    async def numbers(session: AsyncSession, message: SignedMessage, _: Opener) -> None:
        await receive_numbers(session, message)

    router.register(
        RESPONSE_BATCH,
        answers,
        senders=Senders.only(*tiers, detail="disclosure answers come from the tiers asked"),
    )
    router.register(
        CODE_POOL_BATCH,
        codes,
        senders=Senders.only(AGENCY, detail="only the agency designates resident codes"),
    )
    router.register(
        MOVE_IN_NOTICE_BATCH,
        notices,
        senders=Senders.kinds(
            PrincipalKind.MUNICIPALITY,
            reason="not_a_municipality",
            detail="only a municipality sends a move-in notice",
        ),
    )
    router.register(
        MOVE_OUT_CERTIFICATE_BATCH,
        certificates,
        senders=Senders.kinds(
            PrincipalKind.MUNICIPALITY,
            reason="not_a_municipality",
            detail="only a municipality sends a move-out certificate",
        ),
    )
    router.register(
        REFUSED_BATCH,
        refusals,
        senders=Senders.only(*tiers, detail="only this town's tiers report refusals"),
    )
    router.register(
        NUMBER_ASSIGNED_BATCH,
        numbers,
        senders=Senders.only(AGENCY, detail="only the agency generates individual numbers"),
    )
    return router
