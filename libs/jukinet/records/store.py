"""The identity-record store kept by the prefecture and agency tiers: changes and repairs
applied to current records (one row per resident code) and the full history (one row
per change, never deleted).

Changes apply in batches: one SELECT for the codes a batch touches, the handover rules
(:mod:`jukinet.records.handover`) for each change, then bulk writes — the SQL is the
repository's (:mod:`jukinet.records.repository`). A change this tier refuses is
reported in :class:`AppliedChanges`, never raised; a refused repair raises the store's
own :class:`~jukinet.records.errors.RecordRefused`.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from jukinet.contracts.identity import IdentityChange, IdentityRecord
from jukinet.records import handover
from jukinet.records.errors import ForeignResident, RecordRefused
from jukinet.records.repository import RecordRepository
from jukinet.records.tables import (
    HistoryRow,
    RecordRow,
    RecordStatus,
    RecordTables,
    history_row,
    record_row,
    record_tables,
)

__all__ = [
    "AppliedChanges",
    "CodeOwners",
    "Designations",
    "RecordStatus",
    "RecordTables",
    "RefusedChange",
    "Transition",
    "apply_changes",
    "log_stored",
    "record_tables",
    "repair_records",
]


@dataclass(frozen=True)
class RefusedChange:
    """A change this tier did not apply, and why: its correlation id, a stable reason
    code and a detail naming kinds, never values. No history row is written for it."""

    correlation_id: str
    reason: str
    detail: str


@dataclass(frozen=True)
class Transition:
    """A resident's current record became ``row`` (the version its history row holds):
    by a change of the batch, or by a held move-in taking over after the holder's
    move-out. ``previous_code``: the code a 住民票コード変更 replaced."""

    row: RecordRow
    previous_code: str | None = None


@dataclass(frozen=True)
class AppliedChanges:
    """What became of a batch. Each change stands or falls alone: ``accepted`` have their
    history rows (``current`` of them became the current record), ``refused`` have none.
    ``transitions``: every current record the batch made, in order — what the residents'
    watchers are told (a stale version or a held move-in is history only, until taken)."""

    current: int
    accepted: list[IdentityChange]
    refused: list[RefusedChange]
    transitions: list[Transition] = field(default_factory=list)


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
    repo = RecordRepository(session, tables)
    codes = {c.record.resident_code for c in changes}
    codes |= {c.previous_code for c in changes if c.previous_code}
    current = await repo.current(codes)
    former = await repo.towns_in_history(handover.codes_held_elsewhere(changes, current))
    owners = await _owners(session, designations, changes, current)
    covers = designations.covers if designations is not None else None
    existing = set(current)
    dirty: set[str] = set()
    history: list[HistoryRow] = []
    accepted: list[IdentityChange] = []
    refused: list[RefusedChange] = []
    transitions: list[Transition] = []
    applied = 0
    for change in changes:
        try:
            becomes = handover.admit(
                change, current, former, sender=sender, covers=covers, owners=owners
            )
        except RecordRefused as exc:
            refused.append(RefusedChange(change.correlation_id, exc.reason, exc.detail))
            continue
        accepted.append(change)
        history.append(history_row(change, origin_message_id, now))
        if change.previous_code and change.previous_code in current:
            retired = current[change.previous_code]._replace(status=RecordStatus.RETIRED.value)
            current[change.previous_code] = retired
            dirty.add(change.previous_code)
        code = change.record.resident_code
        if becomes:
            current[code] = record_row(change.record, change.version, origin_message_id, now)
            transitions.append(Transition(current[code], change.previous_code))
            dirty.add(code)
            applied += 1
            if handover.moved_out(current[code]):
                taken = await _promote_held(repo, current[code], history, now)
                if taken is not None:
                    current[code] = taken
                    transitions.append(Transition(taken))
        former.add((code, change.record.municipality))  # its history row is written below
    await repo.save({code: current[code] for code in dirty}, existing)
    await repo.add_history(history)
    return AppliedChanges(applied, accepted, refused, transitions)


async def _promote_held(
    repo: RecordRepository, current: RecordRow, pending: Sequence[HistoryRow], now: dt.datetime
) -> RecordRow | None:
    """After the holder's move-out, the held move-in that takes the record over, if any:
    the other towns' history of the code, stored and of this batch, oldest first."""
    code, holder = current.resident_code, current.municipality
    others = await repo.history_elsewhere(code, holder)
    others += [r for r in pending if r.resident_code == code and r.municipality != holder]
    return handover.promoted(current, others, now)


async def _owners(
    session: AsyncSession,
    designations: Designations | None,
    changes: Sequence[IdentityChange],
    current: dict[str, RecordRow],
) -> dict[str, str]:
    if designations is None:
        return {}
    new = sorted({c.record.resident_code for c in changes} - set(current))
    return await designations.owners(session, new) if new else {}


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
    municipality does not have. History is left as it is: a repair is not a change.

    Raises :class:`~jukinet.records.errors.ForeignResident` (nothing written) when a
    record is held by another municipality."""
    repo = RecordRepository(session, tables)
    codes = {record.resident_code for record, _ in current_records}
    current = await repo.current(codes)
    if not all(handover.owned(current.get(code), municipality) for code in codes):
        raise ForeignResident("a repair may only touch the municipality's own records")
    rows = {
        record.resident_code: record_row(record, version, origin_message_id, now)
        for record, version in current_records
    }
    await repo.save(rows, set(current))
    dropped = await repo.drop(absent, municipality=municipality) if absent else 0
    return {"upserted": len(rows), "dropped": dropped}
