"""Request and response bodies of the residents API, and the rules each change reason
sets for its data (DESIGN.md, 異動事由): which dates, which addresses, which household."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from jukinet.contracts.identity import (
    Address,
    ChangeCategory,
    ChangeReason,
    Kana,
    LgCode,
    Name,
    PersonNames,
    ResidentCode,
    Sex,
    check_possible_dates,
)
from jukinet.contracts.mynumber import IndividualNumber
from jukinet.contracts.residency import Nationality

HEAD = "世帯主"
# Reasons entered on a resident's notification (届出): the notification date is required.
# The others are entered ex officio or on a notice from another office.
NOTIFIED = frozenset(
    {
        ChangeReason.MOVE_IN,
        ChangeReason.BIRTH,
        ChangeReason.MOVE_OUT,
        ChangeReason.DEATH,
        ChangeReason.IN_TOWN_MOVE,
        ChangeReason.NAME_CHANGE,
        ChangeReason.CODE_CHANGE,
        # on the resident's request (旧氏の記載請求) or application (通称の記載申出)
        ChangeReason.FORMER_SURNAME_RECORD,
        ChangeReason.FORMER_SURNAME_DELETE,
        ChangeReason.ALIAS_RECORD,
        ChangeReason.ALIAS_DELETE,
    }
)
OPAQUE_ID = r"^[0-9a-f]{32}$"
_OPAQUE = re.compile(OPAQUE_ID)
# Examples in the API documents: made-up people, ids and codes (the codes' check digits fit).
RESIDENT_ID = "3f2a9c4e7b1d4e8f9a6c2b5d8e1f7a30"
MEMBER_ID = "8c1e4b7a2d5f4c9e8b3a6d1f7e2c5a94"
HOUSEHOLD_ID = "c4d1a7e92b5f4e3c8a6d0b9f1e2a7c58"
_CODE = "The resident code (住民票コード): 11 digits, the last a check digit."
_NOTIFIED = (
    "The date of the notification (届出年月日): required for a reason entered on one "
    "(move-in, birth, move-out, death, in-town move, name change, code change); not in "
    "the future, nor before change_date except for a move-out."
)


def _relation(value: str) -> str:
    value = unicodedata.normalize("NFC", value).strip()
    if not value or not all(unicodedata.category(ch) == "Lo" for ch in value):
        raise ValueError("a relation (続柄) is written in kanji or kana, e.g. 妻, 子, 同居人")
    return value


Relation = Annotated[str, Field(min_length=1, max_length=20), AfterValidator(_relation)]


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)  # JST runs ahead of UTC


def _check_notification(reason: ChangeReason, event: dt.date, notified: dt.date | None) -> None:
    if reason in NOTIFIED and notified is None:
        raise ValueError(f"{reason.value} is entered on a notification: notified_on is required")
    if notified is not None and not (notified <= _today()):
        raise ValueError("notified_on cannot be in the future")
    early_allowed = reason is ChangeReason.MOVE_OUT  # 転出届 comes before the move
    if notified is not None and notified < event and not early_allowed:
        raise ValueError("notified_on cannot come before the event (change_date)")


class _Recording(PersonNames):
    """The identity facts of a recorded resident and the reason and date of the entry."""

    model_config = ConfigDict(extra="forbid")

    birth_date: dt.date = Field(description="Date of birth (生年月日).", examples=["1980-04-01"])
    sex: Sex
    address: Address = Field(
        description="The address in this municipality (住所).",
        examples=["神奈川県平塚市浅間町9-9"],
    )
    reason: ChangeReason = Field(
        description="The change reason (異動事由): a recording one (記載). The ex-officio "
        "ones need a supervisor."
    )
    change_date: dt.date = Field(
        description="The date of the event (異動年月日): for a birth, the birth date; not "
        "before birth_date.",
        examples=["2024-04-01"],
    )


class RegisterResident(_Recording):
    """Record a resident (記載): birth, move-in, ex-officio record, naturalisation…

    A move-in from another municipality keeps the person's resident code (from the
    転出証明書) and names that municipality, which is then notified (転入通知). Without
    ``household_id`` the resident heads a new household (世帯主)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "山田 花子",
                    "name_kana": "ヤマダ ハナコ",
                    "birth_date": "2024-04-01",
                    "sex": "female",
                    "address": "神奈川県平塚市浅間町9-9",
                    "reason": "birth",
                    "change_date": "2024-04-01",
                    "notified_on": "2024-04-10",
                    "household_id": HOUSEHOLD_ID,
                    "relation": "子",
                }
            ]
        }
    )

    notified_on: dt.date | None = Field(None, description=_NOTIFIED, examples=["2024-04-10"])
    household_id: str | None = Field(
        None,
        pattern=OPAQUE_ID,
        description="The household joined; without it the resident heads a new one.",
        examples=[HOUSEHOLD_ID],
    )
    relation: Relation | None = Field(
        None,
        description="The relation to the household's head (続柄), in kanji or kana; "
        "required with household_id.",
        examples=["子"],
    )
    previous_address: Address | None = Field(
        None,
        description="The previous address (前住所): required for a move-in.",
        examples=["神奈川県横浜市西区みなとみらい9-9-9"],
    )
    previous_municipality: LgCode | None = Field(
        None,
        description="A move-in from another municipality: that municipality's code, which "
        "is sent a move-in notice (転入通知); with resident_code. Neither from abroad.",
        examples=["141003"],
    )
    resident_code: ResidentCode | None = Field(
        None,
        description="A move-in from another municipality: the person's resident code (from "
        "the 転出証明書), kept. Otherwise one is drawn from the code pool.",
        examples=["12345678903"],
    )
    individual_number: IndividualNumber | None = Field(
        None,
        description="A move-in from another municipality: the person's 個人番号 as the "
        "転出証明書 states it (check digit verified), recorded here. A code drawn here gets "
        "its number from the agency instead.",
        examples=["123456789018"],
    )
    move_out_notice_id: str | None = Field(
        None,
        pattern=OPAQUE_ID,
        description="A move-in from a 転出届の特例 (online move-out): the 転出証明書情報 the old "
        "town sent here (GET /move-outs/incoming). The code, 個人番号, previous address and "
        "town come from it, so the body gives none of them; name, birth date and sex must "
        "be the certificate's.",
        examples=[RESIDENT_ID],
    )
    registered_domicile: Address | None = Field(
        None,
        description="The registered domicile (本籍): kept here, never sent to the network.",
        examples=["神奈川県平塚市浅間町9番地"],
    )
    family_register_head: Name | None = Field(
        None,
        description="The head of the family register (筆頭者): kept here, never sent.",
        examples=["山田 太郎"],
    )

    @model_validator(mode="after")
    def _fits_the_reason(self) -> RegisterResident:
        reason = self.reason
        if reason.category is not ChangeCategory.RECORD:
            raise ValueError("registering a resident needs a recording reason")
        if not self.birth_date <= self.change_date:
            raise ValueError("change_date cannot come before the birth date")
        if reason is ChangeReason.BIRTH and self.change_date != self.birth_date:
            raise ValueError("a birth is recorded with the birth date as change_date")
        _check_notification(reason, self.change_date, self.notified_on)
        self._check_move_in()
        self._check_household()
        return self

    def _check_move_in(self) -> None:
        moving_in = self.reason is ChangeReason.MOVE_IN
        if self.move_out_notice_id is not None:
            if not moving_in:
                raise ValueError("a move-out certificate serves a move-in")
            given = (self.previous_address, self.previous_municipality, self.resident_code,
                     self.individual_number)  # fmt: skip
            if any(value is not None for value in given):
                raise ValueError("with move_out_notice_id the certificate gives the code, "
                                 "number and previous address")  # fmt: skip
            return
        if moving_in and self.previous_address is None:
            raise ValueError("a move-in needs previous_address (前住所)")
        if not moving_in and (self.previous_municipality or self.resident_code):
            raise ValueError("previous_municipality and resident_code belong to a move-in")
        if self.individual_number is not None and self.resident_code is None:
            raise ValueError("individual_number comes with a move-in's resident_code")
        if (self.previous_municipality is None) != (self.resident_code is None):
            raise ValueError(
                "a move-in from another municipality gives both previous_municipality and "
                "the person's resident_code; from abroad, neither"
            )

    def _check_household(self) -> None:
        if self.household_id is not None and self.relation in (None, HEAD):
            raise ValueError("joining a household needs the relation to its head")
        if self.household_id is None and self.relation not in (None, HEAD):
            raise ValueError("a resident without household_id heads a new household")


class MigratedResident(_Recording):
    """One row of an existing register being migrated (bulk import): the record as it
    stands. The counter's rules for a new entry (notification date, previous address…)
    were applied when the old system recorded it; their papers stay in its files."""

    resident_code: ResidentCode | None = None  # the code the old register issued, if any

    @model_validator(mode="after")
    def _is_a_recording(self) -> MigratedResident:
        if self.reason.category is not ChangeCategory.RECORD:
            raise ValueError("a migrated resident carries a recording reason")
        if not self.birth_date <= self.change_date:
            raise ValueError("change_date cannot come before the birth date")
        check_possible_dates(self.birth_date, self.change_date)  # as every tier will
        return self


class NewHead(BaseModel):
    """世帯主変更: the new head, the change's date and notification date, and each
    remaining member's relation (続柄) to the new head where it changes."""

    model_config = ConfigDict(extra="forbid")

    resident_id: str = Field(
        pattern=OPAQUE_ID,
        description="The new head: a live member of the household, by id.",
        examples=[MEMBER_ID],
    )
    change_date: dt.date = Field(
        description="The date of the change (異動年月日).", examples=["2024-04-01"]
    )
    notified_on: dt.date | None = Field(
        None,
        description="The date of the notification (届出年月日), if any: not before change_date.",
        examples=["2024-04-10"],
    )
    relations: dict[str, Relation] = Field(
        default_factory=dict,
        max_length=100,
        description="Each member whose relation (続柄) to the new head changes, by id; a "
        "previous head who stays must be given one.",
        examples=[{RESIDENT_ID: "夫"}],
    )

    @model_validator(mode="after")
    def _members_by_id(self) -> NewHead:
        if not all(_OPAQUE.fullmatch(member) for member in self.relations):
            raise ValueError("relations are given by member id")
        if self.resident_id in self.relations:
            raise ValueError("the new head's relation is 世帯主")
        if self.notified_on is not None and self.notified_on < self.change_date:
            raise ValueError("notified_on cannot come before the event (change_date)")
        return self


class ChangeResident(BaseModel):
    """Modify (修正) or delete (消除) a resident's identity record. A 転居 or 転出 may
    take the whole household along (each member gets their own change); a head who
    leaves members behind names the new head in the same request (世帯主変更)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "reason": "move_out",
                    "change_date": "2024-05-01",
                    "notified_on": "2024-04-20",
                    "next_address": "東京都新宿区西新宿9-9-9",
                    "next_municipality": "131041",
                    "whole_household": True,
                }
            ]
        },
    )

    reason: ChangeReason = Field(
        description="The change reason (異動事由): a modifying (修正) or deleting (消除) "
        "one. The ex-officio ones need a supervisor."
    )
    change_date: dt.date = Field(
        description="The date of the event (異動年月日).", examples=["2024-05-01"]
    )
    notified_on: dt.date | None = Field(None, description=_NOTIFIED, examples=["2024-04-20"])
    name: Name | None = Field(
        None,
        description="The new name: a name change (氏名変更) or an ex-officio correction.",
        examples=["佐藤 太郎"],
    )
    name_kana: Kana | None = Field(
        None,
        description="The new reading, in katakana: a name change or an ex-officio correction.",
        examples=["サトウ タロウ"],
    )
    address: Address | None = Field(
        None,
        description="The new address: required for an in-town move (転居), else an "
        "ex-officio correction.",
        examples=["神奈川県平塚市浅間町9-10"],
    )
    birth_date: dt.date | None = Field(
        None,
        description="The corrected date of birth (ex-officio correction only).",
        examples=["1980-04-02"],
    )
    sex: Sex | None = Field(None, description="The corrected sex (ex-officio correction only).")
    former_surname: Name | None = Field(
        None,
        description="旧氏記載: the former surname to record (a Japanese national's).",
        examples=["鈴木"],
    )
    former_surname_kana: Kana | None = Field(
        None, description="旧氏記載: its reading, in katakana.", examples=["スズキ"]
    )
    alias: Name | None = Field(
        None,
        description="通称記載: the alias to record (a foreign resident's).",
        examples=["山田 太郎"],
    )
    alias_kana: Kana | None = Field(
        None, description="通称記載: its reading, in katakana.", examples=["ヤマダ タロウ"]
    )
    nationality: Nationality | None = Field(
        None,
        description="The corrected nationality or region (ex-officio correction of a "
        "foreign resident's record, e.g. on the immigration office's notice).",
        examples=["VN"],
    )
    next_address: Address | None = Field(
        None,
        description="Where the resident moves to (転出先): required for a move-out, and only then.",
        examples=["東京都新宿区西新宿9-9-9"],
    )
    next_municipality: LgCode | None = Field(
        None,
        description="The municipality moved to, for a move-out within Japan (its code).",
        examples=["131041"],
    )
    whole_household: bool = Field(
        False,
        description="An in-town move or move-out takes the whole household along (each "
        "member gets their own change).",
        examples=[False],
    )
    members: list[str] | None = Field(
        None,
        max_length=100,
        description="Other members of the household moving too, by id (a 転居 or 転出 "
        "without whole_household). On a 転居 they and the resident form a household at the "
        "new address, which the resident heads.",
        examples=[[MEMBER_ID]],
    )
    relations: dict[str, Relation] | None = Field(
        None,
        max_length=100,
        description="On a 転居 with chosen members: each member's relation (続柄) to the "
        "resident, who heads the household at the new address; one for every member.",
        examples=[{MEMBER_ID: "子"}],
    )
    new_head: NewHead | None = Field(
        None,
        description="The new head (世帯主変更), when the head leaves members behind (moving, "
        "dying or deleted); only then.",
    )

    @model_validator(mode="after")
    def _fits_the_reason(self) -> ChangeResident:
        reason = self.reason
        if reason.category is ChangeCategory.RECORD:
            raise ValueError("a recording reason registers a new resident")
        if self.whole_household and reason not in HOUSEHOLD_MOVES:
            raise ValueError("only a 転居 or a 転出 takes the whole household along")
        if self.whole_household and self.new_head is not None:
            raise ValueError("a household moving together keeps its head")
        chosen = self.members is not None
        if chosen and (reason not in HOUSEHOLD_MOVES or self.whole_household):
            raise ValueError("chosen members move with a 転居 or 転出 (or give whole_household)")
        if self.members is not None and not all(_OPAQUE.fullmatch(m) for m in self.members):
            raise ValueError("members are given by resident id")
        self._check_relations()
        _check_notification(reason, self.change_date, self.notified_on)
        moving_out = reason is ChangeReason.MOVE_OUT
        if moving_out and self.next_address is None:
            raise ValueError("a move-out needs next_address (転出先)")
        if not moving_out and (self.next_address or self.next_municipality):
            raise ValueError("next_address and next_municipality belong to a move-out")
        given = {field for field in IDENTITY_FIELDS if getattr(self, field) is not None}
        if reason.category is ChangeCategory.DELETE and given:
            raise ValueError("a deletion changes no identity facts")
        required = _REQUIRED.get(reason)
        if required is not None and not given & required:
            raise ValueError(f"{reason.value} needs one of: {', '.join(sorted(required))}")
        if reason in _ALLOWED and not given <= _ALLOWED[reason]:
            raise ValueError(
                f"{reason.value} may change only: {', '.join(sorted(_ALLOWED[reason]))}"
            )
        return self

    def _check_relations(self) -> None:
        moving_with = self.reason is ChangeReason.IN_TOWN_MOVE and bool(self.members)
        if self.relations is not None and not moving_with:
            raise ValueError("relations belong to a 転居 with chosen members")
        if moving_with and set(self.relations or {}) != set(self.members or []):
            raise ValueError("a 転居 with chosen members gives each member's relation")


HOUSEHOLD_MOVES = frozenset({ChangeReason.IN_TOWN_MOVE, ChangeReason.MOVE_OUT})
# The identity facts a change may give, and which each reason needs and allows.
IDENTITY_FIELDS = ("name", "name_kana", "address", "birth_date", "sex", "former_surname",
                   "former_surname_kana", "alias", "alias_kana", "nationality")  # fmt: skip
_CORRECTABLE = {"name", "name_kana", "address", "birth_date", "sex", "nationality"}
_REQUIRED = {
    ChangeReason.IN_TOWN_MOVE: {"address"},
    ChangeReason.NAME_CHANGE: {"name"},
    ChangeReason.EX_OFFICIO_CORRECTION: _CORRECTABLE,
    ChangeReason.FORMER_SURNAME_RECORD: {"former_surname"},
    ChangeReason.ALIAS_RECORD: {"alias"},
}
_ALLOWED = {
    ChangeReason.IN_TOWN_MOVE: {"address"},
    ChangeReason.NAME_CHANGE: {"name", "name_kana"},
    ChangeReason.CODE_CHANGE: set[str](),
    ChangeReason.EX_OFFICIO_CORRECTION: _CORRECTABLE,
    ChangeReason.FORMER_SURNAME_RECORD: {"former_surname", "former_surname_kana"},
    ChangeReason.FORMER_SURNAME_DELETE: set[str](),
    ChangeReason.ALIAS_RECORD: {"alias", "alias_kana"},
    ChangeReason.ALIAS_DELETE: set[str](),
}


class MoveHousehold(BaseModel):
    """世帯変更: join another household of this municipality, or head a new one."""

    model_config = ConfigDict(extra="forbid")

    household_id: str | None = Field(
        None,
        pattern=OPAQUE_ID,
        description="The household to join; without it the resident heads a new household "
        "at their address.",
        examples=[HOUSEHOLD_ID],
    )
    relation: Relation = Field(
        description="The relation (続柄) to the joined household's head; 世帯主 for a new "
        "household.",
        examples=["妻"],
    )
    change_date: dt.date = Field(
        description="The date of the change (異動年月日).", examples=["2024-04-01"]
    )

    @model_validator(mode="after")
    def _head_or_member(self) -> MoveHousehold:
        if (self.household_id is None) != (self.relation == HEAD):
            raise ValueError("a new household is headed by the resident (relation 世帯主)")
        return self


class ResidentOut(BaseModel):
    """A resident as the register holds them: the identity record (sent to the network)
    and the register-only facts (household, previous and next address, 本籍)."""

    model_config = ConfigDict(from_attributes=True)

    id: str = Field(
        description="The resident's id in this register (opaque; used in URLs).",
        examples=[RESIDENT_ID],
    )
    resident_code: ResidentCode = Field(description=_CODE, examples=["12345678903"])
    name: str = Field(description="Family and given name (氏名).", examples=["山田 太郎"])
    name_kana: str | None = Field(
        description="The name's reading, in katakana (フリガナ).", examples=["ヤマダ タロウ"]
    )
    former_surname: str | None = Field(
        None, description="旧氏, if recorded (a Japanese national's).", examples=[None]
    )
    former_surname_kana: str | None = Field(
        None, description="The former surname's reading.", examples=[None]
    )
    nationality: str | None = Field(
        None,
        description="国籍・地域 (ISO 3166-1 alpha-2; XX stateless): set for a foreign "
        "resident only.",
        examples=[None],
    )
    alias: str | None = Field(None, description="通称, if recorded (a foreign resident's).",
                              examples=[None])  # fmt: skip
    alias_kana: str | None = Field(None, description="The alias's reading.", examples=[None])
    birth_date: dt.date = Field(description="Date of birth (生年月日).", examples=["1980-04-01"])
    sex: Sex
    address: str = Field(description="The address (住所).", examples=["神奈川県平塚市浅間町9-9"])
    change_reason: ChangeReason = Field(description="The reason of the last change (異動事由).")
    change_date: dt.date = Field(
        description="The date of the last change (異動年月日).", examples=["2024-04-01"]
    )
    notified_on: dt.date | None = Field(
        description="The notification date of the last change (届出年月日), if one was made.",
        examples=["2024-04-10"],
    )
    status: str = Field(
        description="live, or deleted (消除: moved out, died or deleted otherwise; kept).",
        examples=["live"],
    )
    version: int = Field(
        description="The record's version: 1 when recorded, one more for each change.",
        examples=[1],
    )
    individual_number: str | None = Field(
        None,
        description="個人番号 (My Number), as the agency generated it for a code drawn here; "
        "null until its answer arrives (or for a resident who brought a code). 特定個人情報: "
        "kept to this register's operators, never logged.",
        examples=["123456789018"],
    )
    household_id: str | None = Field(
        description="The household (世帯) the resident belongs to.", examples=[HOUSEHOLD_ID]
    )
    relation: str | None = Field(
        description="The relation to the household's head (続柄); 世帯主 for the head.",
        examples=["世帯主"],
    )
    became_resident_on: dt.date | None = Field(
        description="The date the person became a resident here (住民となった年月日).",
        examples=["2024-04-01"],
    )
    previous_address: str | None = Field(
        description="The previous address (前住所), for a move-in.",
        examples=["神奈川県横浜市西区みなとみらい9-9-9"],
    )
    previous_municipality: str | None = Field(
        description="The municipality moved from, for a move-in from within Japan.",
        examples=["141003"],
    )
    next_address: str | None = Field(
        description="Where the resident moved to (転出先), after a move-out.", examples=[None]
    )
    next_municipality: str | None = Field(
        description="The municipality moved to, after a move-out (confirmed by its move-in "
        "notice).",
        examples=[None],
    )
    registered_domicile: str | None = Field(
        description="The registered domicile (本籍): never leaves this municipality.",
        examples=["神奈川県平塚市浅間町9番地"],
    )
    family_register_head: str | None = Field(
        description="The head of the family register (筆頭者): never leaves this municipality.",
        examples=["山田 太郎"],
    )


class AliasOut(BaseModel):
    """One 通称 of a foreign resident as recorded: when, where, and until when."""

    model_config = ConfigDict(from_attributes=True)

    alias: str = Field(description="The alias (通称).", examples=["山田 太郎"])
    alias_kana: str | None = Field(description="Its reading.", examples=["ヤマダ タロウ"])
    recorded_on: dt.date = Field(
        description="The date it was recorded (通称を記載した年月日).", examples=["2024-04-01"]
    )
    municipality: str = Field(
        description="The municipality that recorded it (its code).", examples=["142034"]
    )
    deleted_on: dt.date | None = Field(
        description="The date it was deleted (通称を削除した年月日), if it was.", examples=[None]
    )


class HouseholdOut(BaseModel):
    """A household (世帯): its head, address and live members."""

    id: str = Field(description="The household's id (opaque).", examples=[HOUSEHOLD_ID])
    head_id: str | None = Field(
        description="The head's resident id (世帯主); none once the head has left.",
        examples=[RESIDENT_ID],
    )
    address: str = Field(
        description="The household's address.", examples=["神奈川県平塚市浅間町9-9"]
    )
    members: list[ResidentOut] = Field(description="The live members.")


class HistoryOut(BaseModel):
    """One version of the resident's record, as recorded (corrections keep the old)."""

    version: int = Field(description="The version, 1 for the first.", examples=[1])
    change_reason: ChangeReason = Field(description="The change reason (異動事由).")
    change_date: dt.date = Field(
        description="The date of the change (異動年月日).", examples=["2024-04-01"]
    )
    resident_code: str = Field(description=_CODE, examples=["12345678903"])
    record: dict[str, object] = Field(
        description="The identity record of this version, as sent to the network.",
        examples=[
            {
                "resident_code": "12345678903",
                "municipality": "142034",
                "name": "山田 太郎",
                "name_kana": "ヤマダ タロウ",
                "birth_date": "1980-04-01",
                "sex": "male",
                "address": "神奈川県平塚市浅間町9-9",
                "change_reason": "move_in",
                "change_date": "2024-04-01",
            }
        ],
    )
    detail: dict[str, object] | None = Field(
        description="What the register keeps about the change besides the record: "
        "notification date, previous or next address and municipality, and the operator "
        "who made it; never sent.",
        examples=[
            {
                "notified_on": "2024-04-10",
                "previous_address": "神奈川県横浜市西区みなとみらい9-9-9",
                "operator": "spiffe://jukinet/operator/142034/clerk-01",
            }
        ],
    )
    recorded_at: dt.datetime = Field(
        description="When the version was recorded (UTC).", examples=["2024-04-10T01:23:45Z"]
    )


class NumberReissue(BaseModel):
    """Ask the agency for a new 個人番号 because the one in use has leaked and may be
    misused (番号法第7条第2項): on the resident's request, or ex officio."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "reason": "leaked"}]})  # fmt: skip
    reason: Literal["leaked"] = Field(
        description="Why: the number has leaked.", examples=["leaked"]
    )


class ResidentSearch(BaseModel):
    """What a clerk knows of someone: any of these (names and readings by their start,
    as a search compares them: spaces, width and variant kanji folded; hiragana found as
    katakana), on pages."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(
        None,
        min_length=1,
        max_length=100,
        description="The start of the name (spaces, width and variant kanji folded).",
        examples=["山田"],
    )
    kana: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="The start of the reading (hiragana is found as katakana).",
        examples=["やまだ"],
    )
    birth_date: dt.date | None = Field(
        None, description="The date of birth.", examples=["1980-04-01"]
    )
    address: str | None = Field(
        None,
        min_length=1,
        max_length=300,
        description="The start of the address, as written.",
        examples=["神奈川県平塚市浅間町"],
    )
    resident_code: ResidentCode | None = Field(None, description=_CODE, examples=["12345678903"])
    household_id: str | None = Field(
        None,
        pattern=OPAQUE_ID,
        description="The members of this household.",
        examples=[HOUSEHOLD_ID],
    )
    include_closed: bool = Field(
        False,
        description="Also moved out, deceased or deleted (消除) records.",
        examples=[False],
    )
    page: int = Field(1, ge=1, le=10_000, description="The page, from 1.", examples=[1])
    page_size: int = Field(20, ge=1, le=100, description="Residents on a page.", examples=[20])

    @model_validator(mode="after")
    def _asks_something(self) -> ResidentSearch:
        given = (self.name, self.kana, self.birth_date, self.address, self.resident_code,
                 self.household_id)  # fmt: skip
        if all(value is None for value in given):
            raise ValueError("search by at least one of name, kana, birth_date, address, "
                             "resident_code, household_id")  # fmt: skip
        return self


class SearchPage(BaseModel):
    """One page of the residents found, ordered by name, birth date and id."""

    total: int = Field(description="How many residents match, on all pages.", examples=[1])
    page: int = Field(description="This page's number, from 1.", examples=[1])
    page_size: int = Field(description="Residents on a page.", examples=[20])
    results: list[ResidentOut] = Field(description="The residents on this page.")
