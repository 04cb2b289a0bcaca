"""The record store's tables and the typed rows read from and written to them.

Current records (one row per resident code) and the full history (one row per change,
never deleted).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NamedTuple

from sqlalchemy import BigInteger, Column, Date, Index, Integer, MetaData, String, Table, Text

from jukinet.contracts.identity import ChangeCategory, ChangeReason, IdentityChange, IdentityRecord
from jukinet.contracts.residency import residency_of
from jukinet.db.engine import UtcDateTime

__all__ = [
    "HistoryRow",
    "RecordRow",
    "RecordStatus",
    "RecordTables",
    "history_row",
    "record_row",
    "record_tables",
]

_ID = BigInteger().with_variant(Integer(), "sqlite")


class RecordStatus(StrEnum):
    LIVE = "live"
    DELETED = "deleted"  # 消除: kept, with its date
    RETIRED = "retired"  # the code was replaced by a new one


@dataclass(frozen=True)
class RecordTables:
    records: Table
    history: Table


def record_tables(metadata: MetaData) -> RecordTables:
    records = Table(
        "identity_records",
        metadata,
        Column("resident_code", String(11), primary_key=True),
        Column("municipality", String(6), nullable=False),
        Column("name", String(100), nullable=False),
        Column("name_kana", String(200), nullable=True),
        Column("birth_date", Date, nullable=False),
        Column("sex", String(8), nullable=False),
        Column("address", String(300), nullable=False),
        Column("change_reason", String(32), nullable=False),
        Column("change_date", Date, nullable=False),
        Column("status", String(8), nullable=False),
        Column("version", Integer, nullable=False),
        Column("origin_message_id", String(32), nullable=False),
        Column("updated_at", UtcDateTime(), nullable=False),
        # added with foreign residents and 旧氏 (identity 0002)
        Column("former_surname", String(100), nullable=True),
        Column("former_surname_kana", String(200), nullable=True),
        Column("nationality", String(2), nullable=True),
        Column("alias", String(100), nullable=True),
        Column("alias_kana", String(200), nullable=True),
        Index("ix_identity_records_municipality", "municipality", "resident_code"),
        Index("ix_identity_records_facts", "birth_date", "sex", "name"),
    )
    history = Table(
        "identity_history",
        metadata,
        Column("id", _ID, primary_key=True, autoincrement=True),
        Column("resident_code", String(11), nullable=False, index=True),
        Column("municipality", String(6), nullable=False),
        Column("version", Integer, nullable=False),
        Column("change_reason", String(32), nullable=False),
        Column("change_date", Date, nullable=False),
        Column("previous_code", String(11), nullable=True),
        Column("record", Text, nullable=False),
        Column("origin_message_id", String(32), nullable=False),
        Column("recorded_at", UtcDateTime(), nullable=False),
    )
    return RecordTables(records, history)


class RecordRow(NamedTuple):
    """A row of ``identity_records``: a resident code's current record at this tier."""

    resident_code: str
    municipality: str
    name: str
    name_kana: str | None
    birth_date: dt.date
    sex: str
    address: str
    change_reason: str
    change_date: dt.date
    status: str
    version: int
    origin_message_id: str
    updated_at: dt.datetime
    former_surname: str | None = None
    former_surname_kana: str | None = None
    nationality: str | None = None
    alias: str | None = None
    alias_kana: str | None = None

    def identity(self) -> IdentityRecord:
        """The identity record this row holds."""
        fields = IdentityRecord.model_fields
        return IdentityRecord.model_validate({k: getattr(self, k) for k in fields})

    def values(self) -> dict[str, Any]:
        """The row as column values, for an INSERT or UPDATE."""
        return self._asdict()


class HistoryRow(NamedTuple):
    """A row of ``identity_history`` (its surrogate id aside): one accepted change."""

    resident_code: str
    municipality: str
    version: int
    change_reason: str
    change_date: dt.date
    previous_code: str | None
    record: str  # the IdentityRecord as JSON
    origin_message_id: str
    recorded_at: dt.datetime

    def identity(self) -> IdentityRecord:
        return IdentityRecord.model_validate_json(self.record)

    def values(self) -> dict[str, Any]:
        return self._asdict()


def _status(reason: ChangeReason) -> RecordStatus:
    return RecordStatus.DELETED if reason.category is ChangeCategory.DELETE else RecordStatus.LIVE


def record_row(r: IdentityRecord, version: int, origin: str, now: dt.datetime) -> RecordRow:
    """The current-record row of ``r`` at ``version``, stored from message ``origin``."""
    return RecordRow(
        resident_code=r.resident_code,
        municipality=r.municipality,
        name=r.name,
        name_kana=r.name_kana,
        birth_date=r.birth_date,
        sex=r.sex.value,
        address=r.address,
        change_reason=r.change_reason.value,
        change_date=r.change_date,
        status=_status(r.change_reason).value,
        version=version,
        origin_message_id=origin,
        updated_at=now,
        **residency_of(r),
    )


def history_row(change: IdentityChange, origin: str, now: dt.datetime) -> HistoryRow:
    """The history row of an accepted change."""
    r = change.record
    return HistoryRow(
        resident_code=r.resident_code,
        municipality=r.municipality,
        version=change.version,
        change_reason=r.change_reason.value,
        change_date=r.change_date,
        previous_code=change.previous_code,
        record=r.model_dump_json(),
        origin_message_id=origin,
        recorded_at=now,
    )
