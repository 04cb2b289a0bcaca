"""Request and response bodies of the residents API."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, model_validator

from jukinet.identity import (
    Address,
    ChangeCategory,
    ChangeReason,
    Kana,
    Name,
    ResidentCode,
    Sex,
)


class RegisterResident(BaseModel):
    """Record a resident (記載): birth, move-in, ex-officio record, naturalisation…"""

    model_config = ConfigDict(extra="forbid")

    name: Name
    name_kana: Kana | None = None
    birth_date: dt.date
    sex: Sex
    address: Address
    reason: ChangeReason
    change_date: dt.date

    @model_validator(mode="after")
    def _is_a_recording(self) -> RegisterResident:
        if self.reason.category is not ChangeCategory.RECORD:
            raise ValueError("registering a resident needs a recording reason")
        return self


class ChangeResident(BaseModel):
    """Modify (修正) or delete (消除) a resident's identity record."""

    model_config = ConfigDict(extra="forbid")

    reason: ChangeReason
    change_date: dt.date
    name: Name | None = None
    name_kana: Kana | None = None
    address: Address | None = None
    birth_date: dt.date | None = None
    sex: Sex | None = None

    @model_validator(mode="after")
    def _fits_the_reason(self) -> ChangeResident:
        reason = self.reason
        if reason.category is ChangeCategory.RECORD:
            raise ValueError("a recording reason registers a new resident")
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
    status: str
    version: int
