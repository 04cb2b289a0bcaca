"""The identity-record store kept by the prefecture and agency tiers.

Current records (one row per resident code) and the full history (one row per change,
never deleted). Changes apply in batches: one SELECT for the codes a batch touches,
then bulk writes.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Sequence
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
from jukinet.contracts.identity import ChangeCategory, ChangeReason, IdentityChange, IdentityRecord
from jukinet.db.engine import UtcDateTime

__all__ = [
    "AppliedChanges",
    "CodeOwners",
    "Designations",
    "ForeignResident",
    "RecordStatus",
    "RecordTables",
    "RefusedChange",
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


@dataclass(frozen=True)
class RefusedChange:
    """A change this tier did not apply, and why: its correlation id, a stable reason
    code and a detail naming kinds, never values. No history row is written for it."""

    correlation_id: str
    reason: str
    detail: str


@dataclass(frozen=True)
class AppliedChanges:
    """What became of a batch. Each change stands or falls alone: ``accepted`` have their
    history rows (``current`` of them became the current record), ``refused`` have none."""

    current: int
    accepted: list[IdentityChange]
    refused: list[RefusedChange]


CodeOwners = Callable[[AsyncSession, Sequence[str]], Awaitable[dict[str, str]]]
"""Which municipality each of some resident codes was designated to, as far as a tier
knows (the agency's registry; a prefecture's learned designations)."""


@dataclass(frozen=True)
class Designations:
    """How a tier checks that a newly recorded code was designated to the sending town.

    ``covers(town)`` says whether ``owners`` knows that town's designations: a prefecture
    knows only its own towns', so a move-in from another prefecture is left to the agency.
    """

    owners: CodeOwners
    covers: Callable[[str], bool]


def _owned(current: dict[str, Any] | None, municipality: str) -> bool:
    return current is None or current["municipality"] == municipality


def _supersedes(
    current: dict[str, Any] | None, change: IdentityChange, former: set[tuple[str, str]]
) -> bool:
    """Whether ``change`` becomes the current record: a first record, a newer version from
    the municipality that holds it, or a 転入 of the same person (birth date and sex) after
    the holder let them go (its move-out is on file here) and not older than what the tier
    holds. A move-in naming a holder that has not let the person go is held as history
    until the holder's move-out arrives (:func:`_promote_held`); a late change from a town
    that once held the record (its move-out after the hand-over, a move-in overtaken by a
    later one) is history only. Anything else is refused: a municipality never takes over
    a resident by itself."""
    if current is None:
        return True
    holder, mine = current["municipality"], change.record.municipality
    if holder == mine:
        return bool(change.version > current["version"])
    if _handed_over(current, change.record):
        return True
    code = change.record.resident_code
    if (code, mine) in former or _overtaken(current, change) or _held(current, change):
        return False
    raise ForeignResident("the record is held by another municipality")


def _same_person(current: dict[str, Any], record: IdentityRecord) -> bool:
    return bool(current["birth_date"] == record.birth_date and current["sex"] == record.sex.value)


def _moved_out(current: dict[str, Any]) -> bool:
    return bool(
        current["status"] == RecordStatus.DELETED.value
        and current["change_reason"] == ChangeReason.MOVE_OUT.value
    )


def _handed_over(current: dict[str, Any], record: IdentityRecord) -> bool:
    """A move-in of the same person, not older than the holder's move-out on file."""
    if record.change_reason is not ChangeReason.MOVE_IN or not _same_person(current, record):
        return False
    return _moved_out(current) and record.change_date >= current["change_date"]


def _held(current: dict[str, Any], change: IdentityChange) -> bool:
    """A move-in of the same person naming the live holder as the town they came from:
    kept as history, and current only once the holder's move-out arrives."""
    record = change.record
    return (
        record.change_reason is ChangeReason.MOVE_IN
        and _same_person(current, record)
        and current["status"] == RecordStatus.LIVE.value
        and change.previous_municipality == current["municipality"]
    )


def _overtaken(current: dict[str, Any], change: IdentityChange) -> bool:
    """A genuine move-in of this person that a later move has already overtaken."""
    record = change.record
    return (
        record.change_reason is ChangeReason.MOVE_IN
        and _same_person(current, record)
        and record.change_date < current["change_date"]
    )


async def _promote_held(
    session: AsyncSession,
    tables: RecordTables,
    current: dict[str, Any],
    pending: Sequence[dict[str, Any]],
    now: dt.datetime,
) -> dict[str, Any] | None:
    """After the holder's move-out: the record of the town whose held move-in (same
    person, not older than the move-out) came last, at its newest version — or None."""
    code, holder = current["resident_code"], current["municipality"]
    h = tables.history
    stored = await session.execute(
        select(h).where(h.c.resident_code == code, h.c.municipality != holder).order_by(h.c.id)
    )
    rows = [dict(r._mapping) for r in stored]
    rows += [r for r in pending if r["resident_code"] == code and r["municipality"] != holder]
    towns = [
        r["municipality"]
        for r in rows
        if r["change_reason"] == ChangeReason.MOVE_IN.value
        and _handed_over(current, IdentityRecord.model_validate_json(r["record"]))
    ]
    if not towns:
        return None
    theirs = [r for r in rows if r["municipality"] == towns[-1]]
    newest = max(theirs, key=lambda r: r["version"])
    record = IdentityRecord.model_validate_json(newest["record"])
    return _record_row(record, newest["version"], newest["origin_message_id"], now)


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
    sender: str | None = None,
    designations: Designations | None = None,
) -> AppliedChanges:
    """Apply changes in order, each on its own: a change ``sender`` may not make (another
    town's record, a code never designated to it, a resident held elsewhere) is refused
    and leaves no trace here, and the others still apply. History keeps every accepted
    change."""
    codes = {c.record.resident_code for c in changes}
    codes |= {c.previous_code for c in changes if c.previous_code}
    current = await _load(session, tables, codes)
    former = await _former_holders(session, tables, changes, current)
    owners = await _owners(session, designations, changes, current)
    existing = set(current)
    dirty: set[str] = set()
    history: list[dict[str, Any]] = []
    accepted: list[IdentityChange] = []
    refused: list[RefusedChange] = []
    applied = 0
    for change in changes:
        try:
            becomes = _admit(change, current, former, sender, designations, owners)
        except Rejected as exc:
            refused.append(RefusedChange(change.correlation_id, exc.reason, exc.detail))
            continue
        accepted.append(change)
        history.append(_history_row(change, origin_message_id, now))
        if change.previous_code and change.previous_code in current:
            current[change.previous_code] |= {"status": RecordStatus.RETIRED.value}
            dirty.add(change.previous_code)
        code = change.record.resident_code
        if becomes:
            current[code] = _row(change, origin_message_id, now)
            dirty.add(code)
            applied += 1
            if _moved_out(current[code]):
                taken = await _promote_held(session, tables, current[code], history, now)
                if taken is not None:
                    current[code] = taken
        former.add((code, change.record.municipality))  # its history row is written below
    await _write(session, tables, {code: current[code] for code in dirty}, existing)
    if history:
        await session.execute(tables.history.insert(), history)
    return AppliedChanges(applied, accepted, refused)


def _admit(
    change: IdentityChange,
    current: dict[str, dict[str, Any]],
    former: set[tuple[str, str]],
    sender: str | None,
    designations: Designations | None,
    owners: dict[str, str],
) -> bool:
    """Whether the change becomes current (True) or is history only (False); raise
    :class:`Rejected` if this tier refuses it. Nothing is changed here."""
    town = change.record.municipality
    if sender is not None and town != sender:
        raise Rejected("foreign_record", "a municipality may only change its own records")
    if change.previous_code and not _owned(current.get(change.previous_code), town):
        raise ForeignResident("the retired code is held by another municipality")
    code = change.record.resident_code
    if designations is not None and code not in current:
        _check_designated(change, owners.get(code), designations)
        if _ahead_of_holder(change, designations):
            return False
    return _supersedes(current.get(code), change, former)


def _ahead_of_holder(change: IdentityChange, designations: Designations) -> bool:
    """A move-in naming a town whose records reach this tier, for a code this tier does
    not hold yet: the old town's record is still on its way. It is held as history, like
    a move-in naming a live holder, and becomes current only after that town's move-out
    — so a move-in that overtakes the old town's record takes nothing over."""
    came_from = change.previous_municipality
    return (
        change.record.change_reason is ChangeReason.MOVE_IN
        and came_from is not None
        and designations.covers(came_from)
    )


def _check_designated(
    change: IdentityChange, owner: str | None, designations: Designations
) -> None:
    """A code new to this tier must have been designated to the town recording it — or,
    for a move-in, designated at all (to a town whose designations this tier knows)."""
    town = change.record.municipality
    if owner == town:
        return
    came_from = change.previous_municipality
    moving_in = change.record.change_reason is ChangeReason.MOVE_IN and came_from is not None
    if moving_in and (owner is not None or not designations.covers(str(came_from))):
        return
    raise Rejected("code_not_designated", "the resident code was not designated to this town")


async def _owners(
    session: AsyncSession,
    designations: Designations | None,
    changes: Sequence[IdentityChange],
    current: dict[str, dict[str, Any]],
) -> dict[str, str]:
    if designations is None:
        return {}
    new = sorted({c.record.resident_code for c in changes} - set(current))
    return await designations.owners(session, new) if new else {}


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
