"""Request and response bodies of the residents API, and the rules each change reason
sets for its data (DESIGN.md, 異動事由): which dates, which addresses, which household."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from jukinet.contracts.identity import (
    Address,
    ChangeCategory,
    ChangeReason,
    Kana,
    LgCode,
    Name,
    ResidentCode,
    Sex,
    check_possible_dates,
)

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
    }
)
OPAQUE_ID = r"^[0-9a-f]{32}$"
_OPAQUE = re.compile(OPAQUE_ID)


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


class _Recording(BaseModel):
    """The identity facts of a recorded resident and the reason and date of the entry."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    name_kana: Kana | None = None
    birth_date: dt.date
    sex: Sex
    address: Address
    reason: ChangeReason
    change_date: dt.date


class RegisterResident(_Recording):
    """Record a resident (記載): birth, move-in, ex-officio record, naturalisation…

    A move-in from another municipality keeps the person's resident code (from the
    転出証明書) and names that municipality, which is then notified (転入通知). Without
    ``household_id`` the resident heads a new household (世帯主)."""

    notified_on: dt.date | None = None
    household_id: str | None = Field(None, pattern=OPAQUE_ID)
    relation: Relation | None = None
    previous_address: Address | None = None
    previous_municipality: LgCode | None = None
    resident_code: ResidentCode | None = None
    registered_domicile: Address | None = None
    family_register_head: Name | None = None

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
        if moving_in and self.previous_address is None:
            raise ValueError("a move-in needs previous_address (前住所)")
        if not moving_in and (self.previous_municipality or self.resident_code):
            raise ValueError("previous_municipality and resident_code belong to a move-in")
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

    resident_id: str = Field(pattern=OPAQUE_ID)
    change_date: dt.date
    notified_on: dt.date | None = None
    relations: dict[str, Relation] = Field(default_factory=dict, max_length=100)

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

    model_config = ConfigDict(extra="forbid")

    reason: ChangeReason
    change_date: dt.date
    notified_on: dt.date | None = None
    name: Name | None = None
    name_kana: Kana | None = None
    address: Address | None = None
    birth_date: dt.date | None = None
    sex: Sex | None = None
    next_address: Address | None = None
    next_municipality: LgCode | None = None
    whole_household: bool = False
    members: list[str] | None = Field(
        None, max_length=100, description="other members of the household moving out too"
    )
    new_head: NewHead | None = None

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
        if chosen and (reason is not ChangeReason.MOVE_OUT or self.whole_household):
            raise ValueError("chosen members move out with a 転出 (or give whole_household)")
        if self.members is not None and not all(_OPAQUE.fullmatch(m) for m in self.members):
            raise ValueError("members are given by resident id")
        _check_notification(reason, self.change_date, self.notified_on)
        moving_out = reason is ChangeReason.MOVE_OUT
        if moving_out and self.next_address is None:
            raise ValueError("a move-out needs next_address (転出先)")
        if not moving_out and (self.next_address or self.next_municipality):
            raise ValueError("next_address and next_municipality belong to a move-out")
        given = {
            field
            for field in ("name", "name_kana", "address", "birth_date", "sex")
            if getattr(self, field) is not None
        }
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


HOUSEHOLD_MOVES = frozenset({ChangeReason.IN_TOWN_MOVE, ChangeReason.MOVE_OUT})
_REQUIRED = {
    ChangeReason.IN_TOWN_MOVE: {"address"},
    ChangeReason.NAME_CHANGE: {"name"},
    ChangeReason.EX_OFFICIO_CORRECTION: {"name", "name_kana", "address", "birth_date", "sex"},
}
_ALLOWED = {
    ChangeReason.IN_TOWN_MOVE: {"address"},
    ChangeReason.NAME_CHANGE: {"name", "name_kana"},
    ChangeReason.CODE_CHANGE: set[str](),
}


class MoveHousehold(BaseModel):
    """世帯変更: join another household of this municipality, or head a new one."""

    model_config = ConfigDict(extra="forbid")

    household_id: str | None = Field(None, pattern=OPAQUE_ID)
    relation: Relation
    change_date: dt.date

    @model_validator(mode="after")
    def _head_or_member(self) -> MoveHousehold:
        if (self.household_id is None) != (self.relation == HEAD):
            raise ValueError("a new household is headed by the resident (relation 世帯主)")
        return self


class ResidentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    resident_code: ResidentCode
    name: str
    name_kana: str | None
    birth_date: dt.date
    sex: Sex
    address: str
    change_reason: ChangeReason
    change_date: dt.date
    notified_on: dt.date | None
    status: str
    version: int
    household_id: str | None
    relation: str | None
    became_resident_on: dt.date | None
    previous_address: str | None
    previous_municipality: str | None
    next_address: str | None
    next_municipality: str | None
    registered_domicile: str | None
    family_register_head: str | None


class HouseholdOut(BaseModel):
    id: str
    head_id: str | None
    address: str
    members: list[ResidentOut]


class HistoryOut(BaseModel):
    """One version of the resident's record, as recorded (corrections keep the old)."""

    version: int
    change_reason: ChangeReason
    change_date: dt.date
    resident_code: str
    record: dict[str, object]
    detail: dict[str, object] | None
    recorded_at: dt.datetime


class ResidentSearch(BaseModel):
    """What a clerk knows of someone: any of these (names and readings by their start,
    as a search compares them: spaces, width and variant kanji folded; hiragana found as
    katakana), on pages."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=100)
    kana: str | None = Field(None, min_length=1, max_length=200)
    birth_date: dt.date | None = None
    address: str | None = Field(None, min_length=1, max_length=300)
    resident_code: ResidentCode | None = None
    household_id: str | None = Field(None, pattern=OPAQUE_ID)
    include_closed: bool = False  # moved out, deceased or deleted (消除) records too
    page: int = Field(1, ge=1, le=10_000)
    page_size: int = Field(20, ge=1, le=100)

    @model_validator(mode="after")
    def _asks_something(self) -> ResidentSearch:
        given = (self.name, self.kana, self.birth_date, self.address, self.resident_code,
                 self.household_id)  # fmt: skip
        if all(value is None for value in given):
            raise ValueError("search by at least one of name, kana, birth_date, address, "
                             "resident_code, household_id")  # fmt: skip
        return self


class SearchPage(BaseModel):
    total: int
    page: int
    page_size: int
    results: list[ResidentOut]
