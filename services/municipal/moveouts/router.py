"""The API of 転出届の特例: the resident's signed online move-out (no operator: the card's
signature is the authentication), the card handed over at the counter, and the clerk's
view of the 転出証明書情報 that arrived for a 転入."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, status
from pydantic import BaseModel, ConfigDict, Field

from jukinet.contracts.identity import Sex
from jukinet.contracts.moveout import CARD_KEY_PATTERN, MoveOutCertificate
from jukinet.node.deps import NodeDep, RuntimeDep, SessionDep, guard
from jukinet.node.problems import problem_responses
from jukinet.operators import Actor
from jukinet.pki import utcnow
from municipal.moveouts.cards import CardTaken, issue_card
from municipal.moveouts.certificate import incoming
from municipal.moveouts.online import CardRefused, FilingRefused, FilingReplayed, accept_filing
from municipal.residents.schemas import RESIDENT_ID
from municipal.residents.service import ResidentDeleted, get_resident

__all__ = ["router"]

router = APIRouter(tags=["online move-out"])
Writer = Annotated[Actor, guard("residents.write")]
Reader = Annotated[Actor, guard("residents.read")]
_KEY = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
_JWS = "eyJhbGciOiJFZERTQSIsInR5cCI6Imp1a2luZXQtb25saW5lLW1vdmUtb3V0K2p3cyJ9.eyJ0b3duIjoi...}.c2ln"


class OnlineFiling(BaseModel):
    """A resident's online move-out: the filing signed by their card."""

    model_config = ConfigDict(extra="forbid")

    filing: str = Field(
        min_length=20,
        max_length=4096,
        description="A compact JWS (alg Ed25519, typ jukinet-online-move-out+jws, kid the card's "
        "public key) of the filing: town, resident_code, planned_on, "
        "destination_municipality, destination_address, visit_on, nonce, signed_at.",
        examples=[_JWS],
    )


class FilingAccepted(BaseModel):
    """The filing is recorded as the 転出 and its certificate is on its way."""

    notice_id: str = Field(description="The filing's number here; the certificate's too.",
                           examples=[RESIDENT_ID])  # fmt: skip
    planned_on: dt.date = Field(description="The move-out recorded for this date.",
                                examples=["2026-12-01"])  # fmt: skip
    destination: str = Field(description="The town the certificate was sent to.",
                             examples=["131016"])  # fmt: skip


class CardIssue(BaseModel):
    """The card handed over at the counter: the public half of the resident's key."""

    model_config = ConfigDict(extra="forbid")

    public_key: str = Field(
        pattern=CARD_KEY_PATTERN,
        description="The card's Ed25519 public key, base64url (32 bytes).",
        examples=[_KEY],
    )


class CardOut(BaseModel):
    """The card registered for the resident."""

    public_key: str = Field(description="The card's public key.", examples=[_KEY])
    issued_at: dt.datetime = Field(description="When it was registered (UTC).",
                                   examples=["2026-11-29T01:23:45Z"])  # fmt: skip


class IncomingOut(BaseModel):
    """A 転出証明書情報 as the clerk sees it, to record the 転入 from."""

    notice_id: str = Field(description="Give it as move_out_notice_id on the move-in.",
                           examples=[RESIDENT_ID])  # fmt: skip
    status: Literal["pending", "used", "expired"] = Field(
        description="pending until a move-in is recorded from it (used) or its period "
        "ends (expired).", examples=["pending"])  # fmt: skip
    from_municipality: str = Field(description="The town moved out of.", examples=["142034"])
    resident_code: str = Field(description="The resident code.", examples=["12345678903"])
    name: str = Field(description="氏名.", examples=["山田 太郎"])
    name_kana: str | None = Field(description="ふりがな.", examples=["ヤマダ タロウ"])
    birth_date: dt.date = Field(description="生年月日.", examples=["1980-04-01"])
    sex: Sex
    previous_address: str = Field(description="The address moved out of.",
                                  examples=["神奈川県平塚市浅間町9-9"])  # fmt: skip
    next_address: str = Field(description="The address filed as the destination.",
                              examples=["東京都千代田区千代田1-1"])  # fmt: skip
    planned_on: dt.date = Field(description="転出予定年月日.", examples=["2026-12-01"])
    visit_on: dt.date = Field(description="来庁予定日.", examples=["2026-12-03"])
    valid_until: dt.date = Field(description="The last day it serves a move-in.",
                                 examples=["2026-12-31"])  # fmt: skip
    received_at: dt.datetime = Field(description="When it arrived (UTC).",
                                     examples=["2026-11-29T01:23:45Z"])  # fmt: skip


@router.post(
    "/move-outs/online",
    status_code=status.HTTP_202_ACCEPTED,
    responses=problem_responses(
        CardRefused, 404, FilingReplayed, ResidentDeleted, 409, 413, FilingRefused, 422
    ),
    summary="An online move-out (転出届の特例), signed with the resident's card",
    description="Checks the card (handed over here, not revoked) and its signature, the "
    "town, freshness (10 minutes), the nonce (never twice) and the planned date (within "
    "14 days); records the 転出 for the planned date and sends the 転出証明書情報 to the "
    "destination, sealed to it — in one transaction. No operator: the card's signature "
    "is the authentication. A head who would leave members behind is refused (409): the "
    "new head is named at the counter.",
)
async def file_online(
    body: OnlineFiling, session: SessionDep, node: NodeDep, runtime: RuntimeDep
) -> FilingAccepted:
    filed = await accept_filing(session, node, body.filing, runtime.sealer.check_recipient)
    return FilingAccepted(notice_id=filed.notice_id, planned_on=filed.planned_on,
                          destination=filed.destination)  # fmt: skip


ResidentId = Annotated[str, Path(description="The resident's id (opaque).", examples=[RESIDENT_ID])]


@router.post(
    "/residents/{resident_id}/card",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 404, ResidentDeleted, CardTaken, 422),
    summary="Hand the resident their card (個人番号カードの交付)",
    description="Registers the public key of the card the resident holds; a card handed "
    "before is revoked. Clerks, supervisors and the node's token only.",
)
async def hand_card(
    resident_id: ResidentId, body: CardIssue, session: SessionDep, _: Writer
) -> CardOut:
    resident = await get_resident(session, resident_id)
    if resident.status != "live":
        raise ResidentDeleted("a deleted record gets no card")
    card = await issue_card(session, resident.id, body.public_key, utcnow())
    return CardOut(public_key=card.public_key, issued_at=card.issued_at)


@router.get(
    "/move-outs/incoming",
    responses=problem_responses(401, 403, 422),
    summary="The 転出証明書情報 that arrived for a 転入 (the clerk's pending list)",
    description="The certificates other towns sent here for residents who filed an online "
    "move-out to this town, soonest visit first: pending ones, or all with all=true. "
    "Expired ones are closed first. Clerks, supervisors and the node's token only.",
)
async def pending(
    session: SessionDep,
    _: Reader,
    all: Annotated[
        bool, Query(description="Also the used and expired ones.", examples=[False])
    ] = False,
) -> list[IncomingOut]:
    rows = await incoming(session, utcnow().date(), all_=all)
    return [_out(row.notice_id, row.status, row.certificate, row.received_at) for row in rows]


def _out(notice_id: str, status_: str, certificate: str, received: dt.datetime) -> IncomingOut:
    c = MoveOutCertificate.model_validate_json(certificate)
    r = c.record
    return IncomingOut(
        notice_id=notice_id, status=status_, from_municipality=r.municipality,
        resident_code=r.resident_code, name=r.name, name_kana=r.name_kana,
        birth_date=r.birth_date, sex=r.sex, previous_address=r.address,
        next_address=c.next_address, planned_on=c.planned_on, visit_on=c.visit_on,
        valid_until=c.valid_until, received_at=received,
    )  # fmt: skip
