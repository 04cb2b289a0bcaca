"""転出届の特例 (the online move-out, since February 2023): the wire contracts.

A resident with a My Number card files the move-out online: the planned date, the
destination and the day they will visit the new town, signed with the card's own key
(:class:`OnlineMoveOut`, a compact JWS, alg ``Ed25519``). The old town checks the signature
against the card it handed over, records the 転出, and sends the move-out certificate's
information (転出証明書情報, :class:`MoveOutCertificate`) to the destination over the bus,
sealed to that town alone. The new town's clerk picks it up and records the 転入 from it
within the period: 14 days of moving in and 30 days of the planned date.

Everything here is personal data: it travels only inside signed requests and sealed
messages; validation errors name fields and kinds, never values.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from jukinet.contracts.identity import Address, ChangeReason, IdentityRecord, LgCode, Name
from jukinet.contracts.messages import BATCH_TYPE_SUFFIX
from jukinet.contracts.mynumber import IndividualNumber

__all__ = [
    "CARD_KEY_PATTERN",
    "DAYS_AFTER_MOVE_IN",
    "DAYS_AFTER_PLANNED",
    "MAX_DAYS_AHEAD",
    "MOVE_OUT_CERTIFICATE",
    "MOVE_OUT_CERTIFICATE_BATCH",
    "ONLINE_MOVE_OUT_TYP",
    "MoveOutCertificate",
    "OnlineMoveOut",
]

ONLINE_MOVE_OUT_TYP = "jukinet-online-move-out+jws"  # the JWS header's typ
MOVE_OUT_CERTIFICATE = "moves.certificate"  # old town → the destination town
MOVE_OUT_CERTIFICATE_BATCH = MOVE_OUT_CERTIFICATE + BATCH_TYPE_SUFFIX
DAYS_AFTER_PLANNED = 30  # the notice serves a 転入 until 30 days after the planned date
DAYS_AFTER_MOVE_IN = 14  # and the 転入届 comes within 14 days of moving in (住基法第22条)
MAX_DAYS_AHEAD = 14  # how far ahead of the planned date the old town takes the filing
# a resident card's public key: Ed25519, 32 bytes, base64url without padding
CARD_KEY_PATTERN = r"^[A-Za-z0-9_-]{43}$"
_HEX32 = r"^[0-9a-f]{32}$"
_LATEST = dt.date(9000, 1, 1)  # so that planned_on + 30 days is a date
CardKey = Annotated[str, StringConstraints(pattern=CARD_KEY_PATTERN)]


class OnlineMoveOut(BaseModel):
    """What the resident signs with their card: who, from which town, to where, when."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    town: LgCode = Field(description="The town moved out of, where this is filed.")
    resident_code: str = Field(pattern=r"^[0-9]{11}$", description="The filer's code.")
    planned_on: dt.date = Field(description="転出予定年月日: the planned day of the move.")
    destination_municipality: LgCode = Field(description="The town moved to (its code).")
    destination_address: Address = Field(description="The address there (転出先).")
    visit_on: dt.date = Field(description="来庁予定日: the day of the visit to the new town.")
    nonce: str = Field(pattern=_HEX32, description="Fresh per request: a replay is refused.")
    signed_at: dt.datetime = Field(description="When the card signed it (UTC).")

    @model_validator(mode="after")
    def _fits_a_move(self) -> OnlineMoveOut:
        if self.planned_on > _LATEST:
            raise ValueError("the planned date is not a date of this world")
        if self.destination_municipality == self.town:
            raise ValueError("a move within the town is a 転居, not a move-out")
        if not self.planned_on <= self.visit_on <= self.valid_until:
            raise ValueError("the visit falls between the planned date and 30 days after it")
        if self.signed_at.tzinfo is None:
            raise ValueError("signed_at carries its time zone")
        return self

    @property
    def valid_until(self) -> dt.date:
        return self.planned_on + dt.timedelta(days=DAYS_AFTER_PLANNED)


class MoveOutCertificate(BaseModel):
    """転出証明書情報: what the old town sends the new one for a 転出届の特例 — the record as
    the move-out closed it, what the paper certificate also states (個人番号, household,
    本籍 and 筆頭者), the planned and visit dates, and the card carried on (継続利用)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    notice_id: str = Field(pattern=_HEX32)
    record: IdentityRecord  # the old town's closing version: reason 転出, the planned date
    individual_number: IndividualNumber | None = None
    next_municipality: LgCode
    next_address: Address
    visit_on: dt.date
    valid_until: dt.date
    household_head: Name | None = None
    relation: Annotated[str, StringConstraints(min_length=1, max_length=20)] | None = None
    registered_domicile: Address | None = None
    family_register_head: Name | None = None
    card_key: CardKey | None = None

    @model_validator(mode="after")
    def _closes_a_move_out(self) -> MoveOutCertificate:
        if self.record.change_reason is not ChangeReason.MOVE_OUT:
            raise ValueError("the certificate carries the record its move-out closed")
        if self.next_municipality == self.record.municipality:
            raise ValueError("the certificate goes to another town")
        if self.valid_until != self.planned_on + dt.timedelta(days=DAYS_AFTER_PLANNED):
            raise ValueError("valid_until is 30 days after the planned date")
        return self

    @property
    def planned_on(self) -> dt.date:
        return self.record.change_date
