"""Importing a whole register in one transaction: every row valid, or nothing stored."""

from __future__ import annotations

import datetime as dt
import json
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from jukinet.contracts.codepool import CODES_MIGRATED, MAX_CODES_PER_REQUEST
from jukinet.contracts.identity import (
    CHANGE_MESSAGE_TYPE,
    IdentityChange,
    IdentityRecord,
    kana_key,
    name_key,
)
from jukinet.contracts.ids import generate_resident_code
from jukinet.contracts.principals import Principal
from jukinet.contracts.residency import residency_of
from jukinet.node.problems import Conflict
from jukinet.pki import utcnow
from municipal.bulk.repository import (
    AliasValues,
    ImportRepository,
    OutboxValues,
    ResidentValues,
    VersionValues,
)
from municipal.codes_repository import CodePoolRepository
from municipal.residents.repository import ResidentRepository
from municipal.residents.schemas import MigratedResident

__all__ = ["import_register"]

_CHUNK = 5000


async def import_register(
    session: AsyncSession, node: Principal, rows: list[MigratedResident]
) -> list[str]:
    """Record every row and queue its change. A row keeps the code the old register
    issued; rows without one get fresh random codes. Every code is first claimed as this
    town's (``codes.migrated``, ahead of the changes on the same channel), so the
    prefecture and the agency register it before they record it. Returns each row's
    resident code, in the file's order."""
    now = utcnow()
    await _refuse_taken(session, [r.resident_code for r in rows if r.resident_code])
    fresh = iter(await _fresh_codes(session, sum(1 for r in rows if not r.resident_code)))
    codes = [r.resident_code or next(fresh) for r in rows]
    await _claim(session, node, codes, now)
    for start in range(0, len(rows), _CHUNK):
        chunk = rows[start : start + _CHUNK]
        await _insert_chunk(session, node, chunk, codes[start : start + _CHUNK], now)
    return codes


async def _claim(
    session: AsyncSession, node: Principal, codes: list[str], now: dt.datetime
) -> None:
    claims = [
        OutboxValues(
            recipient=node.prefecture_of.uri,
            message_type=CODES_MIGRATED,
            payload=json.dumps({"codes": codes[start : start + MAX_CODES_PER_REQUEST]}),
            created_at=now,
        )
        for start in range(0, len(codes), MAX_CODES_PER_REQUEST)
    ]
    await ImportRepository(session).enqueue(claims)


class CodesTaken(Conflict):
    type = "codes-taken"
    title = "Some rows carry resident codes already registered here"


async def _refuse_taken(session: AsyncSession, given: list[str]) -> None:
    residents = ResidentRepository(session)
    for start in range(0, len(given), _CHUNK):
        taken = await residents.count_holding(given[start : start + _CHUNK])
        if taken:
            raise CodesTaken(f"{taken} rows carry codes of residents already registered here")


async def _fresh_codes(session: AsyncSession, count: int) -> list[str]:
    """Codes drawn at random, unused here (the pool's, residents', and each other)."""
    residents, pool = ResidentRepository(session), CodePoolRepository(session)
    fresh: set[str] = set()
    while len(fresh) < count:
        batch = {generate_resident_code() for _ in range(count - len(fresh))} - fresh
        for start in range(0, len(batch), _CHUNK):
            part = sorted(batch)[start : start + _CHUNK]
            batch -= await residents.holding(part) | await pool.in_pool(part)
        fresh |= batch
    return list(fresh)


async def _insert_chunk(
    session: AsyncSession,
    node: Principal,
    rows: list[MigratedResident],
    codes: list[str],
    now: dt.datetime,
) -> None:
    """Plain rows through Core inserts: ORM objects cost more than the SQL here."""
    residents: list[ResidentValues] = []
    versions: list[VersionValues] = []
    aliases: list[AliasValues] = []
    outbox: list[OutboxValues] = []
    recipient = node.prefecture_of.uri
    for body, code in zip(rows, codes, strict=True):
        record = IdentityRecord(
            resident_code=code, municipality=node.code, name=body.name,
            name_kana=body.name_kana, birth_date=body.birth_date, sex=body.sex,
            address=body.address, change_reason=body.reason, change_date=body.change_date,
            **residency_of(body),
        )  # fmt: skip
        change = IdentityChange(record=record, version=1, correlation_id=uuid.uuid4().hex)
        resident_id = uuid.uuid4().hex
        residents.append(ResidentValues(
            id=resident_id, resident_code=code, name=body.name,
            name_kana=body.name_kana, name_key=name_key(body.name),
            kana_key=kana_key(body.name_kana) if body.name_kana is not None else None,
            birth_date=body.birth_date, sex=body.sex.value,
            address=body.address, change_reason=body.reason.value,
            change_date=body.change_date, status="live", version=1,
            created_at=now, updated_at=now, former_surname=body.former_surname,
            former_surname_kana=body.former_surname_kana, nationality=body.nationality,
            alias=body.alias, alias_kana=body.alias_kana,
        ))  # fmt: skip
        if body.alias is not None:  # its history starts here, as of the record's date
            aliases.append(AliasValues(resident_id=resident_id, alias=body.alias,
                                       alias_kana=body.alias_kana, recorded_on=body.change_date,
                                       municipality=node.code, deleted_on=None))  # fmt: skip
        versions.append(VersionValues(
            resident_id=resident_id, version=1, resident_code=code,
            change_reason=body.reason.value, change_date=body.change_date,
            record=record.model_dump_json(), correlation_id=change.correlation_id,
            recorded_at=now,
        ))  # fmt: skip
        payload = json.dumps(
            change.model_dump(mode="json"), ensure_ascii=False, separators=(",", ":")
        )
        outbox.append(
            OutboxValues(
                recipient=recipient, message_type=CHANGE_MESSAGE_TYPE, payload=payload,
                created_at=now,
            )
        )  # fmt: skip
    repository = ImportRepository(session)
    await repository.add_residents(residents, versions, aliases)
    await repository.enqueue(outbox)
