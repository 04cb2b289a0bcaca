"""Disclosure requests (提供状況の開示) made at the counter, and the tiers' answers."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import uuid
from collections.abc import Mapping
from functools import partial
from typing import Any, ClassVar

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from jukinet.bus import Rejected, enqueue
from jukinet.contracts.principals import AGENCY, Principal
from jukinet.envelope import SignedMessage
from jukinet.lookups import DISCLOSURE_REQUEST, DISCLOSURE_RESPONSE_BATCH, DisclosureResponse
from jukinet.node.problems import Conflict, NotFound
from jukinet.pki import utcnow
from municipal.copies.settings import CopySettings
from municipal.disclosures.document import render_disclosure
from municipal.disclosures.repository import DisclosureRepository
from municipal.models import Disclosure, DisclosureAnswer, bus
from municipal.residents.repository import ResidentRepository
from municipal.residents.service import get_resident

__all__ = ["RESPONSE_BATCH", "disclosure_view", "record_answers", "request_disclosure"]

log = logging.getLogger("jukinet.municipal.disclosures")
RESPONSE_BATCH = DISCLOSURE_RESPONSE_BATCH


def tiers(node: Principal) -> list[Principal]:
    return [node.prefecture_of, AGENCY]


async def request_disclosure(
    session: AsyncSession, node: Principal, resident_id: str
) -> Disclosure:
    resident = await get_resident(session, resident_id)
    disclosure = Disclosure(
        id=uuid.uuid4().hex,
        resident_id=resident.id,
        resident_code=resident.resident_code,
        requested_at=utcnow(),
    )
    await DisclosureRepository(session).add(disclosure)
    payload = {"disclosure_id": disclosure.id, "resident_code": resident.resident_code}
    for tier in tiers(node):
        await enqueue(
            session, bus, recipient=tier, message_type=DISCLOSURE_REQUEST, payload=payload
        )
    log.info("disclosure requested: disclosure=%s", disclosure.id)
    return disclosure


async def disclosure_view(
    session: AsyncSession, node: Principal, disclosure_id: str
) -> dict[str, Any]:
    disclosures = DisclosureRepository(session)
    disclosure = await disclosures.get(disclosure_id)
    if disclosure is None:
        raise NotFound("no such disclosure request")
    rows = await disclosures.answers(disclosure_id)
    answers = {row.tier: json.loads(row.provisions) for row in rows}
    return {
        "id": disclosure.id,
        "resident_id": disclosure.resident_id,
        "requested_at": disclosure.requested_at,
        "complete": all(t.uri in answers for t in tiers(node)),
        "answers": answers,
    }


class NotYetAnswered(Conflict):
    type = "disclosure-incomplete"
    title = "Not every tier has answered yet"
    reasons: ClassVar[Mapping[str, str]] = {
        "incomplete": "the prefecture or the agency has not answered yet"
    }


async def disclosure_document(session: AsyncSession, node: Principal, disclosure_id: str) -> bytes:
    """The printed disclosure, once complete (the resident gets all of it or nothing)."""
    view = await disclosure_view(session, node, disclosure_id)
    if not view["complete"]:
        waiting = "the prefecture or the agency has not answered yet"
        raise NotYetAnswered(waiting, reason="incomplete")
    resident = await ResidentRepository(session).get(view["resident_id"])
    if resident is None:  # pragma: no cover - a disclosure is requested for a resident here
        raise NotFound("no such resident in this municipality")
    issuer = CopySettings().issuer(node).name
    return await asyncio.to_thread(
        partial(
            render_disclosure, issuer=issuer, resident_name=resident.name,
            resident_code=resident.resident_code,
            issued_on=dt.datetime.now(dt.timezone(dt.timedelta(hours=9))).date(),
            answers=view["answers"],
        )
    )  # fmt: skip


async def record_answers(session: AsyncSession, message: SignedMessage) -> None:
    """Store each tier's answer; refuse answers to requests this office never made, and
    answers from anyone but the tiers asked (the agency and this town's prefecture)."""
    if message.issuer not in (AGENCY, message.audience.prefecture_of):
        raise Rejected("sender_not_permitted", "disclosure answers come from the tiers asked")
    items = message.payload.get("items")
    if not isinstance(items, list) or not items:
        raise Rejected("invalid_payload", "items must be a non-empty list")
    try:
        responses = [DisclosureResponse.model_validate(item) for item in items]
    except ValidationError:
        raise Rejected("invalid_payload", "not a disclosure response") from None
    disclosures = DisclosureRepository(session)
    for response in responses:
        disclosure = await disclosures.get(response.disclosure_id)
        if disclosure is None or disclosure.resident_code != response.resident_code:
            raise Rejected("unknown_disclosure", "an answer to a request this office did not make")
        provisions: Any = [p.model_dump(mode="json") for p in response.provisions]
        if response.refused is not None:
            provisions = {"refused": response.refused}
        disclosures.add_answer(
            DisclosureAnswer(
                disclosure_id=disclosure.id,
                tier=message.issuer.uri,
                provisions=json.dumps(provisions, ensure_ascii=False),
                received_at=utcnow(),
            )
        )
        log.info("disclosure answered: disclosure=%s by=%s", disclosure.id, message.issuer.code)
