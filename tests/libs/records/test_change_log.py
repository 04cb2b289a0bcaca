"""Stored changes are logged by correlation id: a line each for a few, one line listing
them all for a bulk message — and never any personal data."""

from __future__ import annotations

import datetime as dt
import json
import logging

import pytest

from jukinet.contracts.identity import ChangeReason, IdentityChange, IdentityRecord, Sex
from jukinet.contracts.ids import generate_resident_code
from jukinet.node.logs import JsonFormatter
from jukinet.records.store import PER_CHANGE_LOG_LIMIT, log_stored


def changes(count: int) -> list[IdentityChange]:
    record = IdentityRecord(
        resident_code=generate_resident_code(), municipality="141003", name="山田 太郎",
        name_kana="ヤマダ タロウ", birth_date=dt.date(1980, 1, 2), sex=Sex.MALE,
        address="神奈川県横浜市中区本町1丁目1番", change_reason=ChangeReason.BIRTH,
        change_date=dt.date(1980, 1, 2),
    )  # fmt: skip
    return [
        IdentityChange(record=record, version=1, correlation_id=f"{i:032x}") for i in range(count)
    ]


def formatted(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    return [json.loads(JsonFormatter().format(r)) for r in caplog.records]


@pytest.mark.parametrize("count", [1, PER_CHANGE_LOG_LIMIT])
def test_a_few_changes_get_a_line_each(caplog: pytest.LogCaptureFixture, count: int) -> None:
    with caplog.at_level(logging.INFO, logger="t"):
        log_stored(logging.getLogger("t"), changes(count), "141003")
    lines = formatted(caplog)
    assert [line["correlation_id"] for line in lines] == [f"{i:032x}" for i in range(count)]
    assert all(line["origin"] == "141003" for line in lines)


def test_a_bulk_message_gets_one_line_listing_every_change(
    caplog: pytest.LogCaptureFixture,
) -> None:
    batch = changes(PER_CHANGE_LOG_LIMIT + 1)
    with caplog.at_level(logging.INFO, logger="t"):
        log_stored(logging.getLogger("t"), batch, "141003")
    (line,) = formatted(caplog)
    assert line["correlation_ids"] == [c.correlation_id for c in batch]
    assert line["count"] == len(batch)
    text = json.dumps(line, ensure_ascii=False)
    assert "山田" not in text
    assert batch[0].record.resident_code not in text
