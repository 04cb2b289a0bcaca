"""The handover rules: whether a change a town sends becomes the current record, is kept
as history only, or is refused — pure decisions over the record a tier holds, the change
and what its history shows (README: "A live record cannot be taken"). The store reads
and writes; nothing here touches the database.

A municipality never takes over a resident by itself: a record passes from one town to
another only as a move-in of the same person (birth date and sex), once the holder let
them go (its move-out is on file here), and not older than what the tier holds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence

from jukinet.contracts.identity import ChangeReason, IdentityChange, IdentityRecord
from jukinet.records.errors import CodeNotDesignated, ForeignRecord, ForeignResident
from jukinet.records.tables import HistoryRow, RecordRow, RecordStatus, record_row

__all__ = [
    "Covers",
    "admit",
    "codes_held_elsewhere",
    "handed_over",
    "moved_out",
    "owned",
    "promoted",
    "supersedes",
]

Covers = Callable[[str], bool]
"""Whether a tier knows a town's designations (a prefecture: only its own towns')."""


def owned(current: RecordRow | None, municipality: str) -> bool:
    return current is None or current.municipality == municipality


def admit(
    change: IdentityChange,
    current: Mapping[str, RecordRow],
    former: set[tuple[str, str]],
    *,
    sender: str | None,
    covers: Covers | None,
    owners: Mapping[str, str],
) -> bool:
    """Whether the change becomes current (True) or is history only (False); raise a
    :class:`~jukinet.records.errors.RecordRefused` if this tier refuses it.

    ``covers`` is None when the tier does not check designations; ``owners`` are the
    designated towns of the codes new to the tier, ``former`` the (code, town) pairs the
    history shows."""
    town = change.record.municipality
    if sender is not None and town != sender:
        raise ForeignRecord("a municipality may only change its own records")
    if change.previous_code and not owned(current.get(change.previous_code), town):
        raise ForeignResident("the retired code is held by another municipality")
    code = change.record.resident_code
    if covers is not None and code not in current:
        _check_designated(change, owners.get(code), covers)
        if _ahead_of_holder(change, covers):
            return False
    return supersedes(current.get(code), change, former)


def supersedes(
    current: RecordRow | None, change: IdentityChange, former: set[tuple[str, str]]
) -> bool:
    """Whether ``change`` becomes the current record: a first record, a newer version from
    the municipality that holds it, or a 転入 of the same person (birth date and sex) after
    the holder let them go (its move-out is on file here) and not older than what the tier
    holds. A move-in naming a holder that has not let the person go is held as history
    until the holder's move-out arrives (:func:`promoted`); a late change from a town
    that once held the record (its move-out after the hand-over, a move-in overtaken by a
    later one) is history only. Anything else is refused: a municipality never takes over
    a resident by itself."""
    if current is None:
        return True
    holder, mine = current.municipality, change.record.municipality
    if holder == mine:
        return change.version > current.version
    if handed_over(current, change.record):
        return True
    code = change.record.resident_code
    if (code, mine) in former or _overtaken(current, change) or _held(current, change):
        return False
    raise ForeignResident("the record is held by another municipality")


def _same_person(current: RecordRow, record: IdentityRecord) -> bool:
    return current.birth_date == record.birth_date and current.sex == record.sex.value


def moved_out(current: RecordRow) -> bool:
    return (
        current.status == RecordStatus.DELETED.value
        and current.change_reason == ChangeReason.MOVE_OUT.value
    )


def handed_over(current: RecordRow, record: IdentityRecord) -> bool:
    """A move-in of the same person, not older than the holder's move-out on file."""
    if record.change_reason is not ChangeReason.MOVE_IN or not _same_person(current, record):
        return False
    return moved_out(current) and record.change_date >= current.change_date


def _held(current: RecordRow, change: IdentityChange) -> bool:
    """A move-in of the same person naming the live holder as the town they came from:
    kept as history, and current only once the holder's move-out arrives."""
    record = change.record
    return (
        record.change_reason is ChangeReason.MOVE_IN
        and _same_person(current, record)
        and current.status == RecordStatus.LIVE.value
        and change.previous_municipality == current.municipality
    )


def _overtaken(current: RecordRow, change: IdentityChange) -> bool:
    """A genuine move-in of this person that a later move has already overtaken."""
    record = change.record
    return (
        record.change_reason is ChangeReason.MOVE_IN
        and _same_person(current, record)
        and record.change_date < current.change_date
    )


def _ahead_of_holder(change: IdentityChange, covers: Covers) -> bool:
    """A move-in naming a town whose records reach this tier, for a code this tier does
    not hold yet: the old town's record is still on its way. It is held as history, like
    a move-in naming a live holder, and becomes current only after that town's move-out
    — so a move-in that overtakes the old town's record takes nothing over."""
    came_from = change.previous_municipality
    return (
        change.record.change_reason is ChangeReason.MOVE_IN
        and came_from is not None
        and covers(came_from)
    )


def _check_designated(change: IdentityChange, owner: str | None, covers: Covers) -> None:
    """A code new to this tier must have been designated to the town recording it — or,
    for a move-in, designated at all (to a town whose designations this tier knows)."""
    town = change.record.municipality
    if owner == town:
        return
    came_from = change.previous_municipality
    moving_in = change.record.change_reason is ChangeReason.MOVE_IN and came_from is not None
    if moving_in and (owner is not None or not covers(str(came_from))):
        return
    raise CodeNotDesignated("the resident code was not designated to this town")


def promoted(
    current: RecordRow, others: Sequence[HistoryRow], now: dt.datetime
) -> RecordRow | None:
    """After the holder's move-out: the record of the town whose held move-in (same
    person, not older than the move-out) came last, at its newest version — or None.

    ``others`` is the code's history from towns other than the holder, oldest first."""
    towns = [
        r.municipality
        for r in others
        if r.change_reason == ChangeReason.MOVE_IN.value and handed_over(current, r.identity())
    ]
    if not towns:
        return None
    theirs = [r for r in others if r.municipality == towns[-1]]
    newest = max(theirs, key=lambda r: r.version)
    return record_row(newest.identity(), newest.version, newest.origin_message_id, now)


def codes_held_elsewhere(
    changes: Iterable[IdentityChange], current: Mapping[str, RecordRow]
) -> set[str]:
    """The codes a change comes for from a town that does not hold the record (moves):
    the only ones whose history can show a former holder."""
    return {
        c.record.resident_code
        for c in changes
        if c.record.resident_code in current
        and current[c.record.resident_code].municipality != c.record.municipality
    }
