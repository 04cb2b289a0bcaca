"""The handover rules on their own (libs/jukinet/records/handover.py): pure decisions over
typed rows, no database. The store's behaviour on a real one is test_record_handover."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from jukinet.contracts.identity import ChangeReason, IdentityChange, IdentityRecord, Sex
from jukinet.contracts.ids import generate_resident_code
from jukinet.records import handover
from jukinet.records.errors import CodeNotDesignated, ForeignRecord, ForeignResident
from jukinet.records.tables import RecordRow, history_row, record_row

YOKOHAMA, HIRATSUKA, ODAWARA = "141003", "142034", "142069"
CODE = generate_resident_code()
MOVED_OUT_ON = dt.date(2026, 2, 1)
NOW = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC)
_ids = itertools.count()


def change(
    town: str,
    reason: ChangeReason,
    *,
    version: int = 1,
    day: dt.date = MOVED_OUT_ON,
    came_from: str | None = None,
    previous_code: str | None = None,
) -> IdentityChange:
    record = IdentityRecord(
        resident_code=CODE, municipality=town, name="見本 太郎", birth_date=dt.date(1980, 4, 1),
        sex=Sex.MALE, address="どこか1-1", change_reason=reason, change_date=day,
    )  # fmt: skip
    return IdentityChange(
        record=record, version=version, previous_municipality=came_from,
        previous_code=previous_code, correlation_id=f"{next(_ids):016x}",
    )  # fmt: skip


def held(c: IdentityChange) -> RecordRow:
    return record_row(c.record, c.version, "o" * 32, NOW)


def test_a_moved_out_record_goes_to_the_last_town_that_took_the_person_in() -> None:
    moved_out = held(change(YOKOHAMA, ChangeReason.MOVE_OUT, version=4))
    early = change(HIRATSUKA, ChangeReason.MOVE_IN, day=MOVED_OUT_ON - dt.timedelta(days=1))
    first = change(HIRATSUKA, ChangeReason.MOVE_IN, day=MOVED_OUT_ON)
    last = change(ODAWARA, ChangeReason.MOVE_IN, day=MOVED_OUT_ON)
    corrected = change(ODAWARA, ChangeReason.NAME_CHANGE, version=2, day=MOVED_OUT_ON)
    others = [history_row(c, f"{i:032x}", NOW) for i, c in enumerate([first, last, corrected])]
    taken = handover.promoted(moved_out, others, NOW)
    assert taken == record_row(corrected.record, 2, others[2].origin_message_id, NOW)
    older = [history_row(early, "e" * 32, NOW)]  # older than the move-out: never handed over
    assert handover.promoted(moved_out, older, NOW) is None


def test_only_the_holder_moves_its_record_on_and_nobody_takes_a_live_one() -> None:
    current = held(change(YOKOHAMA, ChangeReason.BIRTH, version=2))
    assert handover.supersedes(
        current, change(YOKOHAMA, ChangeReason.NAME_CHANGE, version=3), set()
    )
    assert not handover.supersedes(current, change(YOKOHAMA, ChangeReason.NAME_CHANGE), set())
    taker = change(HIRATSUKA, ChangeReason.MOVE_IN, day=MOVED_OUT_ON)
    with pytest.raises(ForeignResident):
        handover.supersedes(current, taker, set())
    asked = change(HIRATSUKA, ChangeReason.MOVE_IN, came_from=YOKOHAMA)
    assert not handover.supersedes(current, asked, set())  # held until Yokohama lets go
    assert not handover.supersedes(current, taker, {(CODE, HIRATSUKA)})  # a former holder


def test_a_change_is_refused_for_its_sender_its_retired_code_or_its_designation() -> None:
    birth = change(HIRATSUKA, ChangeReason.BIRTH)
    with pytest.raises(ForeignRecord):
        handover.admit(birth, {}, set(), sender=YOKOHAMA, covers=None, owners={})
    other = generate_resident_code()
    current = {other: held(change(YOKOHAMA, ChangeReason.BIRTH))._replace(resident_code=other)}
    code_change = change(HIRATSUKA, ChangeReason.CODE_CHANGE, previous_code=other)
    with pytest.raises(ForeignResident):
        handover.admit(code_change, current, set(), sender=None, covers=None, owners={})
    with pytest.raises(CodeNotDesignated):
        handover.admit(birth, {}, set(), sender=HIRATSUKA, covers=lambda _: True, owners={})
    assert handover.admit(
        birth, {}, set(), sender=HIRATSUKA, covers=lambda _: True, owners={CODE: HIRATSUKA}
    )
