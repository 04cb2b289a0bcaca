"""The operation log: every operator action, append-only, hash-chained and signed.

Each entry's hash covers its sequence number, the previous hash and every field; the
office's node signs each hash. ``verify_operations`` (behind `jukinet audit verify`)
walks the chain and names the first entry that breaks it. Targets are opaque ids
(resident ids, operator slugs), never names, addresses or resident codes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from jukinet.contracts.chains import GENESIS, ChainReport, KeyRing, check_entry
from jukinet.db.engine import AnyRow
from jukinet.operators._model import Actor
from jukinet.operators._tables import OperatorTables
from jukinet.pki import utcnow

__all__ = ["Operation", "append_operation", "verify_operations"]

_PG_LOCK = 0x6A6B6F70  # serialises appends on PostgreSQL
_CHUNK = 5000


@dataclass(frozen=True)
class Operation:
    at: dt.datetime
    actor: str
    role: str
    action: str
    target: str | None
    outcome: str

    @classmethod
    def of(cls, actor: Actor, action: str, target: str | None, outcome: str) -> Operation:
        return cls(utcnow(), actor.name, actor.role.value, action, target, outcome)


def _digest(seq: int, prev: str, op: Operation) -> str:
    doc = [seq, prev, op.at.astimezone(dt.UTC).isoformat(), op.actor, op.role, op.action]
    doc += [op.target, op.outcome]
    data = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()
    return hashlib.sha256(data).hexdigest()


async def append_operation(
    session: AsyncSession,
    tables: OperatorTables,
    op: Operation,
    key: ed25519.Ed25519PrivateKey,
) -> int:
    """Append one entry inside the caller's transaction; return its sequence number."""
    log = tables.operation_log
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK})
    last = (
        await session.execute(select(log.c.seq, log.c.hash).order_by(log.c.seq.desc()).limit(1))
    ).first()
    seq, prev = (int(last.seq) + 1, str(last.hash)) if last is not None else (1, GENESIS)
    digest = _digest(seq, prev, op)
    await session.execute(
        log.insert().values(
            seq=seq,
            at=op.at,
            actor=op.actor,
            role=op.role,
            action=op.action,
            target=op.target,
            outcome=op.outcome,
            prev_hash=prev,
            hash=digest,
            signature=key.sign(digest.encode()),
        )
    )
    return seq


async def verify_operations(
    session: AsyncSession,
    tables: OperatorTables,
    keys: KeyRing | list[ed25519.Ed25519PublicKey],
) -> ChainReport:
    """Walk the whole chain; each entry must be signed by one of the node's keys (all it
    has had, for rotations)."""
    log = tables.operation_log
    expected, prev, checked = 1, GENESIS, 0
    while True:
        rows = (
            await session.execute(
                select(log).where(log.c.seq >= expected).order_by(log.c.seq).limit(_CHUNK)
            )
        ).all()
        if not rows:
            return ChainReport(checked, None, None)
        for row in rows:
            problem = _check(row, expected, prev, keys)
            if problem is not None:
                return ChainReport(checked, int(row.seq), problem)
            checked, expected, prev = checked + 1, expected + 1, str(row.hash)


def _check(
    r: AnyRow, seq: int, prev: str, keys: KeyRing | list[ed25519.Ed25519PublicKey]
) -> str | None:
    op = Operation(r.at, r.actor, r.role, r.action, r.target, r.outcome)
    return check_entry(r, seq, prev, _digest(seq, prev, op), keys)
