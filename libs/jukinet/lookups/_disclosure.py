"""Disclosure to residents (本人確認情報の提供状況の開示).

A resident asks at their municipality's counter; the municipality sends a signed
``disclosure.request`` to its prefecture and to the agency; each answers, sealed to that
municipality, with every provision of that resident's identity record it made, and logs
the disclosure itself in its provision log.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from jukinet.bus import BATCH_TYPE_SUFFIX, Rejected, enqueue
from jukinet.bus._tables import BusTables
from jukinet.contracts.identity import ResidentCode, summarize
from jukinet.contracts.principals import Principal, PrincipalKind
from jukinet.envelope import SignedMessage
from jukinet.lookups._chain import Provision, append
from jukinet.lookups._store import LookupTables
from jukinet.records.store import RecordTables

__all__ = [
    "DISCLOSURE_REQUEST",
    "DISCLOSURE_REQUEST_BATCH",
    "DISCLOSURE_RESPONSE",
    "DISCLOSURE_RESPONSE_BATCH",
    "DisclosedProvision",
    "DisclosureRequest",
    "DisclosureResponse",
    "answer_disclosures",
]

DISCLOSURE_REQUEST = "disclosure.request"
DISCLOSURE_RESPONSE = "disclosure.response"
DISCLOSURE_REQUEST_BATCH = DISCLOSURE_REQUEST + BATCH_TYPE_SUFFIX
DISCLOSURE_RESPONSE_BATCH = DISCLOSURE_RESPONSE + BATCH_TYPE_SUFFIX
_MINISTRY = Principal(PrincipalKind.MINISTRY, "x").uri[:-1]  # the URI prefix of lookup clients


class DisclosureRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    disclosure_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    resident_code: ResidentCode


class DisclosedProvision(BaseModel):
    at: dt.datetime
    recipient: str
    organisation: str | None
    affair: str
    title: str | None
    query_kind: str
    fields: list[str]


class DisclosureResponse(BaseModel):
    model_config = ConfigDict(extra="forbid")
    disclosure_id: str
    resident_code: ResidentCode
    provisions: list[DisclosedProvision]
    refused: str | None = None  # e.g. not_registered_here: this tier holds no such resident


async def answer_disclosures(
    session: AsyncSession,
    message: SignedMessage,
    *,
    records: RecordTables,
    lookups: LookupTables,
    bus: BusTables,
    signing_key: ed25519.Ed25519PrivateKey,
    now: dt.datetime,
) -> None:
    """Answer a batch of disclosure requests from one municipality, in its transaction."""
    if message.issuer.kind is not PrincipalKind.MUNICIPALITY:
        raise Rejected("sender_not_permitted", "only municipalities request disclosures")
    for request in _requests(message.payload):
        if not await _holds(session, records, request.resident_code, message.issuer.code):
            response = DisclosureResponse(
                disclosure_id=request.disclosure_id,
                resident_code=request.resident_code,
                provisions=[],
                refused="not_registered_here",
            )
            await enqueue(
                session, bus, recipient=message.issuer, message_type=DISCLOSURE_RESPONSE,
                payload=response.model_dump(mode="json"),
            )  # fmt: skip
            continue
        provisions = await _provisions_about(session, lookups, request.resident_code)
        await append(
            session,
            lookups,
            Provision(
                now,
                message.issuer.uri,
                "disclosure",
                "disclosure",
                "disclosed",
                None,
                [request.resident_code],
                [],
            ),
            signing_key,
        )
        response = DisclosureResponse(
            disclosure_id=request.disclosure_id,
            resident_code=request.resident_code,
            provisions=provisions,
        )
        await enqueue(
            session, bus, recipient=message.issuer, message_type=DISCLOSURE_RESPONSE,
            payload=response.model_dump(mode="json"),
        )  # fmt: skip


def _requests(payload: dict[str, Any]) -> list[DisclosureRequest]:
    items = payload.get("items")
    if not isinstance(items, list) or not items:
        raise Rejected("invalid_payload", "items must be a non-empty list")
    try:
        return [DisclosureRequest.model_validate(item) for item in items]
    except ValidationError as exc:
        raise Rejected("invalid_payload", summarize(exc)) from None


async def _holds(session: AsyncSession, records: RecordTables, code: str, town: str) -> bool:
    """Whether this tier holds ``code`` as a resident of ``town`` (a municipality may ask
    only about its own residents)."""
    r = records.records
    owner = await session.scalar(select(r.c.municipality).where(r.c.resident_code == code))
    return bool(owner == town)


async def _provisions_about(
    session: AsyncSession, lookups: LookupTables, code: str
) -> list[DisclosedProvision]:
    log, subjects, clients, grants = (
        lookups.provisions,
        lookups.provision_subjects,
        lookups.clients,
        lookups.grants,
    )
    query = (
        select(log, clients.c.organisation, grants.c.title)
        .join(subjects, subjects.c.seq == log.c.seq)
        .outerjoin(clients, clients.c.client == func.replace(log.c.client, _MINISTRY, ""))
        .outerjoin(
            grants, (grants.c.client == clients.c.client) & (grants.c.affair == log.c.affair)
        )
        .where(subjects.c.resident_code == code, log.c.outcome == "provided")
        .order_by(log.c.seq)
    )
    rows = await session.execute(query)
    return [
        DisclosedProvision(
            at=row.at,
            recipient=row.client,
            organisation=row.organisation,
            affair=row.affair,
            title=row.title,
            query_kind=row.query_kind,
            fields=[f for f in row.fields.split(",") if f],
        )
        for row in rows
    ]
