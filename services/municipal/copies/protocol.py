"""The wire contract of nationwide copies: what the issuing municipality asks, what the
home municipality answers.

Both are envelope payloads (signed by the sender, sealed to the other end) and both are
validated with ``extra="forbid"`` on receipt. The record that travels,
:class:`CopyRecord`, has no field for 本籍 (registered domicile) or 筆頭者 (head of the
family register): they are never on a nationwide copy, so they never leave the home
municipality, and an answer that carried them would be refused as malformed. The resident
code and the relation to the household head travel only when the request asked for them
(:meth:`CopyAnswer.conforms_to` checks that at the issuing end).
"""

from __future__ import annotations

import datetime as dt
import time
import unicodedata
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from jukinet.contracts.identity import Address, ChangeReason, Kana, LgCode, Name, ResidentCode, Sex
from jukinet.contracts.principals import InvalidPrincipal, Principal, PrincipalKind
from jukinet.contracts.residency import Nationality

__all__ = [
    "ANSWER_TTL",
    "COPY_ANSWER",
    "COPY_REQUEST",
    "MAX_ENTRIES",
    "REQUEST_TTL",
    "CopyAnswer",
    "CopyOptions",
    "CopyRecord",
    "CopyRequest",
    "IssueCopy",
    "MunicipalityName",
    "PersonQuery",
    "Refusal",
    "printable",
    "sequence_now",
]

COPY_REQUEST = "copies.request"
COPY_ANSWER = "copies.answer"
# The resident is waiting at the counter: a request older than this is not answered
# (and the home municipality need remember message ids only this long to stop replays).
REQUEST_TTL = dt.timedelta(seconds=60)
ANSWER_TTL = dt.timedelta(seconds=60)
MAX_ENTRIES = 50  # people on one household copy
_HEX32 = r"^[0-9a-f]{32}$"
_DETAIL = r"^[a-z0-9_.:;, -]{1,200}$"  # codes and field names only, never values


def sequence_now() -> int:
    """The envelope sequence of a request or an answer: microseconds, increasing across
    restarts. Nobody orders these messages by it (see municipal.copies.home)."""
    return time.time_ns() // 1000


class Refusal(StrEnum):
    """Why the home municipality gives no copy (a stable code, shown to the clerk)."""

    NOT_FOUND = "not_found"  # nobody registered matches what the ID says
    AMBIGUOUS = "ambiguous"  # more than one live resident matches: give address or code
    MOVED_OUT = "moved_out"  # 転出: no copy once the person has left
    DECEASED = "deceased"  # 死亡
    DELETED = "deleted"  # any other 消除 (ex officio, nationality lost, missing)
    INVALID_REQUEST = "invalid_request"  # failed verification or validation
    UNAVAILABLE = "unavailable"  # the home municipality could not answer now


def printable(value: str) -> str:
    """One line of text that prints: NFC, stripped, no control characters or line breaks."""
    value = unicodedata.normalize("NFC", value).strip()
    if not value:
        raise ValueError("must not be blank")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Co", "Cs", "Zl", "Zp") for ch in value):
        raise ValueError("must not contain control characters or line breaks")
    return value


Purpose = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(printable)]
Relation = Annotated[str, Field(min_length=1, max_length=20), AfterValidator(printable)]
MunicipalityName = Annotated[str, Field(min_length=1, max_length=40), AfterValidator(printable)]


class PersonQuery(BaseModel):
    """Who the copy is of, as stated on the ID the clerk checked: name and birth date, and
    optionally the address at the home municipality; or the resident code (government to
    government only). Every field given must match."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Name | None = Field(
        None,
        description="Family and given name, as on the ID (with birth_date).",
        examples=["山田 太郎"],
    )
    birth_date: dt.date | None = Field(
        None, description="Date of birth, as on the ID (with name).", examples=["1980-04-01"]
    )
    address: Address | None = Field(
        None,
        description="The address at the home municipality, when it is needed to tell people apart.",
        examples=["東京都新宿区西新宿9-9-9"],
    )
    resident_code: ResidentCode | None = Field(
        None,
        description="The resident code (住民票コード), instead of or besides the name "
        "and birth date.",
        examples=["12345678903"],
    )

    @model_validator(mode="after")
    def _identifies_someone(self) -> PersonQuery:
        if (self.name is None) != (self.birth_date is None):
            raise ValueError("name and birth_date are given together")
        if self.name is None and self.resident_code is None:
            raise ValueError("give name and birth_date (as on the ID), or the resident_code")
        return self


class CopyOptions(BaseModel):
    """What the clerk asks for, shared by the counter's request and the wire request."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    purpose: Purpose = Field(
        description="What the copy is for (目的): sent to the home municipality and kept in "
        "both ledgers, not printed.",
        examples=["本人確認済み 転入手続き"],
    )
    id_checked: Literal[True] = Field(
        description="The clerk saw the person's ID (本人確認): no copy otherwise.",
        examples=[True],
    )
    person: PersonQuery = Field(description="Who the copy is of, as the ID states.")
    whole_household: bool = Field(
        False,
        description="Every live member of the person's household (世帯全員).",
        examples=[False],
    )
    include_resident_code: bool = Field(
        False,
        description="Print the resident codes: specially requested (住民票コードの記載).",
        examples=[False],
    )
    include_relation: bool = Field(
        False,
        description="Print each relation to the head: specially requested (続柄の記載).",
        examples=[False],
    )


class IssueCopy(CopyOptions):
    """The counter's request body (``POST /copies``)."""

    home_municipality: LgCode = Field(
        description="Where the person is registered: the municipality's 6-digit code "
        "(another municipality than this one).",
        examples=["131041"],
    )


class CopyRequest(CopyOptions):
    """The payload of a ``copies.request`` message. ``clerk`` is the operator who asked,
    an operator of the sending municipality (checked by the home municipality)."""

    clerk: str = Field(max_length=120)
    clerk_role: Literal["clerk", "supervisor"]

    @model_validator(mode="after")
    def _clerk_is_an_operator(self) -> CopyRequest:
        try:
            principal = Principal.parse(self.clerk)
        except InvalidPrincipal:
            raise ValueError("clerk is not a principal URI") from None
        if principal.kind is not PrincipalKind.OPERATOR:
            raise ValueError("clerk is not an operator")
        return self

    def clerk_office(self) -> str:
        """The local government code of the clerk's office."""
        return Principal.parse(self.clerk).name.partition("/")[0]


class CopyRecord(BaseModel):
    """One person as the copy shows them. No 本籍, no 筆頭者: there is no field for them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Name
    name_kana: Kana | None = None
    birth_date: dt.date
    sex: Sex
    address: Address
    became_resident_on: dt.date | None = None
    change_reason: ChangeReason
    change_date: dt.date
    previous_address: Address | None = None
    household_head: Name | None = None
    resident_code: ResidentCode | None = None  # only when specially requested
    relation: Relation | None = None  # only when specially requested
    former_surname: Name | None = None  # 旧氏, shown beside the name when recorded
    former_surname_kana: Kana | None = None
    nationality: Nationality | None = None  # a foreign resident's 国籍・地域
    alias: Name | None = None  # a foreign resident's 通称
    alias_kana: Kana | None = None


class CopyAnswer(BaseModel):
    """The payload of a ``copies.answer`` message: the records, or a refusal.

    ``in_reply_to`` is the request's message id; it is None only for a refusal of a
    request the home municipality could not even read (the reply subject still names
    who was refused, and only they can read it).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    in_reply_to: str | None = Field(None, pattern=_HEX32)
    outcome: Literal["provided", "refused"]
    reason: Refusal | None = None
    detail: str | None = Field(None, pattern=_DETAIL)
    home_name: MunicipalityName | None = None
    provision_id: str | None = Field(None, pattern=_HEX32)
    entries: list[CopyRecord] = Field(default_factory=list, max_length=MAX_ENTRIES)

    @model_validator(mode="after")
    def _records_or_reason(self) -> CopyAnswer:
        if self.outcome == "provided":
            complete = self.entries and self.home_name and self.in_reply_to
            if not complete or self.reason is not None:
                raise ValueError("a copy carries entries, the home name and in_reply_to")
        elif self.reason is None or self.entries:
            raise ValueError("a refusal carries a reason and no entries")
        return self

    def conforms_to(self, request: CopyOptions) -> bool:
        """No more than was asked: one person unless the household was, and the resident
        code and relation only when specially requested."""
        if len(self.entries) > 1 and not request.whole_household:
            return False
        for entry in self.entries:
            if entry.resident_code is not None and not request.include_resident_code:
                return False
            if entry.relation is not None and not request.include_relation:
                return False
        return True

    @classmethod
    def refused(
        cls, reason: Refusal, *, in_reply_to: str | None, detail: str | None = None
    ) -> CopyAnswer:
        return cls(in_reply_to=in_reply_to, outcome="refused", reason=reason, detail=detail)
