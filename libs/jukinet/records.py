"""The identity-record store kept by the prefecture and agency tiers.

Current records (one row per resident code) and the full history (one row per change,
never deleted). Changes apply in batches: one SELECT for the codes a batch touches,
then bulk writes.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from jukinet.bus import Rejected
from jukinet.db import UtcDateTime
from jukinet.identity import ChangeCategory, ChangeReason, IdentityChange, IdentityRecord

__all__ = [
    "ForeignResident",
    "RecordStatus",
    "RecordTables",
    "apply_changes",
    "log_stored",
    "record_tables",
    "repair_records",
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


def _status(reason: ChangeReason) -> RecordStatus:
    return RecordStatus.DELETED if reason.category is ChangeCategory.DELETE else RecordStatus.LIVE


def _row(change: IdentityChange, origin: str, now: dt.datetime) -> dict[str, Any]:
    return _record_row(change.record, change.version, origin, now)


def _record_row(r: IdentityRecord, version: int, origin: str, now: dt.datetime) -> dict[str, Any]:
    return {
        "resident_code": r.resident_code,
        "municipality": r.municipality,
        "name": r.name,
        "name_kana": r.name_kana,
        "birth_date": r.birth_date,
        "sex": r.sex.value,
        "address": r.address,
        "change_reason": r.change_reason.value,
        "change_date": r.change_date,
        "status": _status(r.change_reason).value,
        "version": version,
        "origin_message_id": origin,
        "updated_at": now,
    }


class ForeignResident(Rejected):
    """A municipality tried to change a record another municipality holds. The message
    is dead-lettered (and alerted) rather than overwrite that municipality's resident."""

    def __init__(self, detail: str) -> None:
        super().__init__("foreign_resident", detail)


def _owned(current: dict[str, Any] | None, municipality: str) -> bool:
    return current is None or current["municipality"] == municipality


def _supersedes(
    current: dict[str, Any] | None, change: IdentityChange, former: set[tuple[str, str]]
) -> bool:
    """Whether ``change`` becomes the current record: a first record, a newer version from
    the municipality that holds it, or a 転入 of the same person (birth date and sex) that
    the holder released — the person moved out, or the move-in names the holder as the
    town they came from, and is not older than what the tier holds. A late change from a
    town that once held the record (its move-out after the hand-over, a move-in overtaken
    by a later one) is history only. Anything else is refused: a municipality never takes
    over a resident by itself."""
    if current is None:
        return True
    holder, mine = current["municipality"], change.record.municipality
    if holder == mine:
        return bool(change.version > current["version"])
    if _handed_over(current, change):
        return True
    if (change.record.resident_code, mine) in former or _overtaken(current, change):
        return False
    raise ForeignResident("the record is held by another municipality")


def _same_person(current: dict[str, Any], record: IdentityRecord) -> bool:
    return bool(current["birth_date"] == record.birth_date and current["sex"] == record.sex.value)


def _handed_over(current: dict[str, Any], change: IdentityChange) -> bool:
    record = change.record
    if record.change_reason is not ChangeReason.MOVE_IN or not _same_person(current, record):
        return False
    if record.change_date < current["change_date"]:
        return False
    moved_out = (
        current["status"] == RecordStatus.DELETED.value
        and current["change_reason"] == ChangeReason.MOVE_OUT.value
    )
    named = (
        current["status"] == RecordStatus.LIVE.value
        and change.previous_municipality == current["municipality"]
    )
    return bool(moved_out or named)


def _overtaken(current: dict[str, Any], change: IdentityChange) -> bool:
    """A genuine move-in of this person that a later move has already overtaken."""
    record = change.record
    return (
        record.change_reason is ChangeReason.MOVE_IN
        and _same_person(current, record)
        and record.change_date < current["change_date"]
    )


async def _former_holders(
    session: AsyncSession,
    tables: RecordTables,
    changes: Sequence[IdentityChange],
    current: dict[str, dict[str, Any]],
) -> set[tuple[str, str]]:
    """(code, municipality) pairs where the change comes from a town that does not hold
    the record and the history shows that town once did — one indexed read, and only
    when the batch touches another town's record (moves)."""
    codes = {
        c.record.resident_code
        for c in changes
        if c.record.resident_code in current
        and current[c.record.resident_code]["municipality"] != c.record.municipality
    }
    if not codes:
        return set()
    h = tables.history
    rows = await session.execute(
        select(h.c.resident_code, h.c.municipality)
        .where(h.c.resident_code.in_(sorted(codes)))
        .distinct()
    )
    return {(r.resident_code, r.municipality) for r in rows}


PER_CHANGE_LOG_LIMIT = 10


def log_stored(log: logging.Logger, changes: Sequence[IdentityChange], origin: str) -> None:
    """Say which changes were stored, by correlation id: a line each for a few, one line
    listing them all for a bulk message (a line per change costs more than storing it)."""
    if len(changes) <= PER_CHANGE_LOG_LIMIT:
        for change in changes:
            extra = {"correlation_id": change.correlation_id, "origin": origin}
            log.info("change stored", extra=extra)
        return
    ids = [c.correlation_id for c in changes]
    log.info("changes stored", extra={"correlation_ids": ids, "origin": origin, "count": len(ids)})


async def apply_changes(
    session: AsyncSession,
    tables: RecordTables,
    changes: Sequence[IdentityChange],
    *,
    origin_message_id: str,
    now: dt.datetime,
) -> int:
    """Apply changes in order; return how many became current. History keeps them all."""
    codes = {c.record.resident_code for c in changes}
    codes |= {c.previous_code for c in changes if c.previous_code}
    current = await _load(session, tables, codes)
    former = await _former_holders(session, tables, changes, current)
    existing = set(current)
    dirty: set[str] = set()
    history, applied = [], 0
    for change in changes:
        history.append(_history_row(change, origin_message_id, now))
        if change.previous_code and change.previous_code in current:
            if not _owned(current[change.previous_code], change.record.municipality):
                raise ForeignResident("the retired code is held by another municipality")
            current[change.previous_code] |= {"status": RecordStatus.RETIRED.value}
            dirty.add(change.previous_code)
        code = change.record.resident_code
        if _supersedes(current.get(code), change, former):
            current[code] = _row(change, origin_message_id, now)
            dirty.add(code)
            applied += 1
        former.add((code, change.record.municipality))  # its history row is written below
    await _write(session, tables, {code: current[code] for code in dirty}, existing)
    await session.execute(tables.history.insert(), history)
    return applied


async def _load(
    session: AsyncSession, tables: RecordTables, codes: set[str]
) -> dict[str, dict[str, Any]]:
    t = tables.records
    rows = await session.execute(select(t).where(t.c.resident_code.in_(sorted(codes))))
    return {r.resident_code: dict(r._mapping) for r in rows}


async def _write(
    session: AsyncSession,
    tables: RecordTables,
    current: dict[str, dict[str, Any]],
    existing: set[str],
) -> None:
    t = tables.records
    inserts = [row for code, row in current.items() if code not in existing]
    updates = [{**row, "b_code": code} for code, row in current.items() if code in existing]
    if inserts:
        await session.execute(t.insert(), inserts)
    if updates:
        columns: dict[str, Any] = {
            c.name: bindparam(c.name) for c in t.columns if c.name != "resident_code"
        }
        stmt = update(t).where(t.c.resident_code == bindparam("b_code")).values(columns)
        await session.execute(stmt.execution_options(synchronize_session=False), updates)


def _history_row(change: IdentityChange, origin: str, now: dt.datetime) -> dict[str, Any]:
    r = change.record
    return {
        "resident_code": r.resident_code,
        "municipality": r.municipality,
        "version": change.version,
        "change_reason": r.change_reason.value,
        "change_date": r.change_date,
        "previous_code": change.previous_code,
        "record": r.model_dump_json(),
        "origin_message_id": origin,
        "recorded_at": now,
    }


async def repair_records(
    session: AsyncSession,
    tables: RecordTables,
    current_records: Sequence[tuple[IdentityRecord, int]],
    absent: Sequence[str],
    *,
    municipality: str,
    origin_message_id: str,
    now: dt.datetime,
) -> dict[str, int]:
    """Make this tier's current records of ``municipality`` what the municipality says
    they are (reconciliation): upsert each record as sent, drop current rows the
    municipality does not have. History is left as it is: a repair is not a change."""
    r = tables.records
    codes = {record.resident_code for record, _ in current_records}
    current = await _load(session, tables, codes)
    if not all(_owned(current.get(code), municipality) for code in codes):
        raise ForeignResident("a repair may only touch the municipality's own records")
    rows = {
        record.resident_code: _record_row(record, version, origin_message_id, now)
        for record, version in current_records
    }
    await _write(session, tables, rows, set(current))
    dropped = 0
    if absent:
        result = await session.execute(
            r.delete().where(r.c.resident_code.in_(list(absent)), r.c.municipality == municipality)
        )
        dropped = int(getattr(result, "rowcount", 0) or 0)
    return {"upserted": len(rows), "dropped": dropped}
