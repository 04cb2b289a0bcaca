"""Reconciliation (整合性確認) between tiers: digests of identity records per
municipality and per code range, so drift is found without shipping whole tables; and
the comparison that names missing, extra and differing records by code only.

Every tier computes the same canonical entry for a record: its code, version, status and
a SHA-256 of its fields. Retired codes (replaced by a code change) are not compared: the
municipality keeps only the current code.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from jukinet.bus import Rejected
from jukinet.contracts.identity import ChangeReason, IdentityRecord, ResidentCode, summarize
from jukinet.records.store import RecordStatus, RecordTables, repair_records

__all__ = [
    "BUCKETS",
    "REPAIR_MESSAGE_TYPE",
    "Drift",
    "Entry",
    "RepairPayload",
    "RepairRecord",
    "apply_repair",
    "bucket_of",
    "compare",
    "digests",
    "entry",
    "tier_entries",
]

BUCKETS = [f"{i:02d}" for i in range(100)]  # the first two digits of a resident code
FIELDS = (
    "municipality",
    "name",
    "name_kana",
    "birth_date",
    "sex",
    "address",
    "change_reason",
    "change_date",
    "former_surname",
    "former_surname_kana",
    "nationality",
    "alias",
    "alias_kana",
)


def bucket_of(code: str) -> str:
    return code[:2]


class Entry(BaseModel):
    """What tiers exchange to reconcile: a code, its version and status, a fingerprint."""

    resident_code: str = Field(
        min_length=11,
        max_length=11,
        description="The resident code (住民票コード).",
        examples=["12345678903"],
    )
    version: int = Field(description="The record's version, from 1.", examples=[3])
    status: str = Field(
        description="The record's status: live, or deleted (消除).", examples=["live"]
    )
    fingerprint: str = Field(
        description="SHA-256 (hex) of the record's fields (municipality, names, 旧氏, "
        "nationality, 通称, birth date, sex, address, change reason and date), version and status.",
        examples=["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"],
    )


def entry(values: Mapping[Any, Any], *, version: int, status: str) -> Entry:
    doc = {f: _plain(values[f]) for f in FIELDS}
    data = json.dumps([doc, version, status], ensure_ascii=False, sort_keys=True).encode()
    return Entry(
        resident_code=values["resident_code"],
        version=version,
        status=status,
        fingerprint=hashlib.sha256(data).hexdigest(),
    )


def _plain(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    return getattr(value, "value", value)


def digests(entries: Iterable[Entry]) -> dict[str, str]:
    """One digest per non-empty code bucket (sorted by code inside each)."""
    by_bucket: dict[str, list[Entry]] = {}
    for e in entries:
        by_bucket.setdefault(bucket_of(e.resident_code), []).append(e)
    out = {}
    for bucket, items in by_bucket.items():
        h = hashlib.sha256()
        for e in sorted(items, key=lambda x: x.resident_code):
            h.update(f"{e.resident_code}|{e.version}|{e.status}|{e.fingerprint}\n".encode())
        out[bucket] = h.hexdigest()
    return out


def _not_moved_out(status: Any, reason: Any) -> Any:
    """Moved-out records are left out of reconciliation on both sides: after a move the
    record belongs to the new municipality (and a tier in the old prefecture keeps only the
    closed copy), so neither side can say alone what the other should hold."""
    return or_(status != RecordStatus.DELETED.value, reason != ChangeReason.MOVE_OUT.value)


async def tier_entries(
    session: AsyncSession, records: RecordTables, municipality: str, bucket: str | None = None
) -> list[Entry]:
    r = records.records
    query = select(r).where(
        r.c.municipality == municipality,
        r.c.status != RecordStatus.RETIRED.value,
        _not_moved_out(r.c.status, r.c.change_reason),
    )
    if bucket is not None:
        query = query.where(r.c.resident_code.like(f"{bucket}%"))
    rows = await session.execute(query.order_by(r.c.resident_code))
    return [entry(row._mapping, version=row.version, status=row.status) for row in rows]


@dataclass
class Drift:
    """Differences of a lower tier against the municipality: codes only."""

    missing: list[str] = field(default_factory=list)  # at the municipality, not the tier
    extra: list[str] = field(default_factory=list)  # at the tier, not the municipality
    differing: list[str] = field(default_factory=list)  # both, but not the same record

    @property
    def clean(self) -> bool:
        return not (self.missing or self.extra or self.differing)

    def counts(self) -> dict[str, int]:
        return {
            "missing": len(self.missing),
            "extra": len(self.extra),
            "differing": len(self.differing),
        }


def compare(source: Iterable[Entry], tier: Iterable[Entry]) -> Drift:
    a = {e.resident_code: e for e in source}
    b = {e.resident_code: e for e in tier}
    return Drift(
        missing=sorted(set(a) - set(b)),
        extra=sorted(set(b) - set(a)),
        differing=sorted(c for c in set(a) & set(b) if a[c] != b[c]),
    )


REPAIR_MESSAGE_TYPE = "identity.repair"


class RepairRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    record: IdentityRecord
    version: int = Field(ge=1, le=1_000_000)


class RepairPayload(BaseModel):
    """One municipality's authoritative state for some codes: records to set, codes the
    municipality does not have."""

    model_config = ConfigDict(extra="forbid")

    records: list[RepairRecord] = Field(default_factory=list, max_length=10_000)
    absent: list[ResidentCode] = Field(default_factory=list, max_length=10_000)


async def apply_repair(
    session: AsyncSession,
    records: RecordTables,
    payload: dict[str, Any],
    *,
    municipality: str,
    origin_message_id: str,
    now: dt.datetime,
) -> dict[str, int]:
    """Apply a batch of repair items from ``municipality`` (raises Rejected when invalid)."""
    items = payload.get("items")
    if not isinstance(items, list) or not items:
        raise Rejected("invalid_payload", "items must be a non-empty list")
    totals = {"upserted": 0, "dropped": 0}
    for raw in items:
        item = _repair_item(raw)
        if any(r.record.municipality != municipality for r in item.records):
            raise Rejected("foreign_record", "a municipality may only repair its own records")
        pairs = [(r.record, r.version) for r in item.records]
        done = await repair_records(
            session, records, pairs, item.absent, municipality=municipality,
            origin_message_id=origin_message_id, now=now,
        )  # fmt: skip
        totals = {k: totals[k] + done[k] for k in totals}
    return totals


def _repair_item(raw: Any) -> RepairPayload:
    try:
        return RepairPayload.model_validate(raw)
    except ValidationError as exc:
        raise Rejected("invalid_payload", summarize(exc)) from None
