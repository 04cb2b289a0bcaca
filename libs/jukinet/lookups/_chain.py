"""The provision log: append-only, hash-chained and signed by the serving node.

Each entry's hash covers its sequence number, the previous entry's hash and every field;
the node signs each hash with its Ed25519 signing key. `jukinet audit verify` walks the
chain from its anchor and names the first entry that breaks it: an edit changes a hash,
a deletion leaves a gap, an insertion or a reordering breaks a link, and a rewritten tail
fails its signatures without the node's key.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from jukinet.contracts.chains import GENESIS, ChainReport, KeyRing, check_entry
from jukinet.db.engine import AnyRow
from jukinet.lookups._store import LookupTables
from jukinet.pki import utcnow

__all__ = [
    "GENESIS",
    "ChainReport",
    "Provision",
    "anchor_bytes",
    "append",
    "append_many",
    "check_anchor",
    "operator_read_logger",
    "purge_before",
    "verify_chain",
]

_VERIFY_CHUNK = 5000
_PG_CHAIN_LOCK = 0x6A756B69  # one advisory lock serialises appends on PostgreSQL
_COPY_FROM = 1000  # index rows from which COPY beats a multi-row INSERT (PostgreSQL)


@dataclass(frozen=True)
class Provision:
    """One provision or refusal. ``residents`` holds only the codes concerned — what a
    disclosure to a resident needs — never names or addresses."""

    at: dt.datetime
    client: str
    affair: str
    query_kind: str
    outcome: str
    reason: str | None
    residents: Sequence[str]
    fields: Sequence[str]


def _digest(seq: int, prev_hash: str, p: Provision) -> str:
    doc = [
        seq,
        prev_hash,
        p.at.astimezone(dt.UTC).isoformat(),
        p.client,
        p.affair,
        p.query_kind,
        p.outcome,
        p.reason,
        list(p.residents),
        list(p.fields),
    ]
    data = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()
    return hashlib.sha256(data).hexdigest()


async def _head(session: AsyncSession, tables: LookupTables) -> tuple[int, str]:
    log, anchor = tables.provisions, tables.chain_anchor
    last = (
        await session.execute(select(log.c.seq, log.c.hash).order_by(log.c.seq.desc()).limit(1))
    ).first()
    if last is not None:
        return int(last.seq), str(last.hash)
    start = (await session.execute(select(anchor.c.seq, anchor.c.hash))).first()
    return (int(start.seq), str(start.hash)) if start is not None else (0, GENESIS)


async def append(
    session: AsyncSession,
    tables: LookupTables,
    provision: Provision,
    key: ed25519.Ed25519PrivateKey,
) -> int:
    """Append one entry inside the caller's transaction; return its sequence number."""
    return (await append_many(session, tables, [provision], key))[0]


async def append_many(
    session: AsyncSession,
    tables: LookupTables,
    provisions: Sequence[Provision],
    key: ed25519.Ed25519PrivateKey,
) -> list[int]:
    """Append entries in order inside the caller's transaction (one lock, one head read,
    one insert of them all); return their sequence numbers."""
    if _dialect(session) == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_CHAIN_LOCK})
    seq, prev = await _head(session, tables)
    entries, subjects, seqs = [], [], []
    for provision in provisions:
        seq += 1
        digest = _digest(seq, prev, provision)
        entries.append(_entry(seq, prev, digest, provision, key))
        subjects += [{"resident_code": c, "seq": seq} for c in sorted(set(provision.residents))]
        seqs.append(seq)
        prev = digest
    await session.execute(tables.provisions.insert(), entries)
    if len(subjects) >= _COPY_FROM and _dialect(session) == "postgresql":
        await _copy_subjects(session, subjects)
    elif subjects:
        await session.execute(tables.provision_subjects.insert(), subjects)
    return seqs


def _dialect(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind is not None else ""


async def _copy_subjects(session: AsyncSession, subjects: list[dict[str, object]]) -> None:
    """A batch lookup's thousands of index rows by COPY, in the session's transaction."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    rows = [(s["resident_code"], s["seq"]) for s in subjects]
    await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
        "provision_subjects", records=rows, columns=["resident_code", "seq"]
    )


def _entry(
    seq: int, prev: str, digest: str, p: Provision, key: ed25519.Ed25519PrivateKey
) -> dict[str, object]:
    return {
        "seq": seq,
        "at": p.at,
        "client": p.client,
        "affair": p.affair,
        "query_kind": p.query_kind,
        "outcome": p.outcome,
        "reason": p.reason,
        "residents": json.dumps(list(p.residents)),
        "fields": ",".join(p.fields),
        "prev_hash": prev,
        "hash": digest,
        "signature": key.sign(digest.encode()),
    }


async def verify_chain(
    session: AsyncSession,
    tables: LookupTables,
    public_key: ed25519.Ed25519PublicKey | list[ed25519.Ed25519PublicKey] | KeyRing,
) -> ChainReport:
    """Walk the chain. ``public_key`` may list every signing key the node has had
    (rotations); each entry must be signed by one of them."""
    keys = KeyRing.of(
        [public_key] if isinstance(public_key, ed25519.Ed25519PublicKey) else public_key
    )
    log, anchor = tables.provisions, tables.chain_anchor
    start = (await session.execute(select(anchor))).first()
    if start is not None and (problem := check_anchor(start, keys)) is not None:
        return ChainReport(0, int(start.seq), problem)
    expected_seq, prev = (int(start.seq) + 1, str(start.hash)) if start else (1, GENESIS)
    checked, after = 0, expected_seq - 1
    while True:
        rows = (
            await session.execute(
                select(log).where(log.c.seq > after).order_by(log.c.seq).limit(_VERIFY_CHUNK)
            )
        ).all()
        if not rows:
            return ChainReport(checked, None, None)
        index = await _subjects(session, tables, int(rows[0].seq), int(rows[-1].seq))
        for row in rows:
            problem = _check(row, expected_seq, prev, keys)
            if problem is None and set(json.loads(row.residents)) != index.get(int(row.seq), set()):
                problem = "its resident index differs from the entry: disclosures were altered"
            if problem is not None:
                return ChainReport(checked, int(row.seq), problem)
            checked, expected_seq, prev = checked + 1, expected_seq + 1, str(row.hash)
        after = int(rows[-1].seq)


async def _subjects(
    session: AsyncSession, tables: LookupTables, first: int, last: int
) -> dict[int, set[str]]:
    s = tables.provision_subjects
    rows = await session.execute(
        select(s.c.seq, s.c.resident_code).where(s.c.seq >= first, s.c.seq <= last)
    )
    index: dict[int, set[str]] = {}
    for seq, code in rows:
        index.setdefault(int(seq), set()).add(code)
    return index


def _check(r: AnyRow, seq: int, prev: str, keys: KeyRing) -> str | None:
    provision = Provision(
        at=r.at,
        client=r.client,
        affair=r.affair,
        query_kind=r.query_kind,
        outcome=r.outcome,
        reason=r.reason,
        residents=json.loads(r.residents),
        fields=[f for f in r.fields.split(",") if f],
    )
    return check_entry(r, seq, prev, _digest(seq, prev, provision), keys)


MIN_RETENTION = dt.timedelta(days=365)  # no purge may drop an entry younger than this


def anchor_bytes(
    seq: int, digest: str, purged_before: dt.datetime, last_at: dt.datetime, at: dt.datetime
) -> bytes:
    """What the node signs when it anchors a purged chain."""
    times = [t.astimezone(dt.UTC).isoformat() for t in (purged_before, last_at, at)]
    return json.dumps(["jukinet.anchor", seq, digest, *times], separators=(",", ":")).encode()


async def purge_before(
    session: AsyncSession,
    tables: LookupTables,
    cutoff: dt.datetime,
    key: ed25519.Ed25519PrivateKey,
    now: dt.datetime | None = None,
) -> int:
    """Drop entries older than the retention period, keeping the chain verifiable from an
    anchor (the hash of the last entry dropped), signed with the node's key together
    with the cut-off, the last dropped entry's time and the purge's own time."""
    now = now or utcnow()
    if cutoff > now - MIN_RETENTION:
        raise ValueError("a purge keeps at least a year of provisions")
    log, anchor = tables.provisions, tables.chain_anchor
    last = (
        await session.execute(
            select(log.c.seq, log.c.hash, log.c.at)
            .where(log.c.at < cutoff)
            .order_by(log.c.seq.desc())
            .limit(1)
        )
    ).first()
    if last is None:
        return 0
    subjects = tables.provision_subjects
    await session.execute(tables.purge_guard.insert().values(id=1))  # past the triggers
    await session.execute(delete(subjects).where(subjects.c.seq <= last.seq))
    result = await session.execute(delete(log).where(log.c.seq <= last.seq))
    await session.execute(delete(anchor))
    signature = key.sign(anchor_bytes(int(last.seq), str(last.hash), cutoff, last.at, now))
    await session.execute(
        anchor.insert().values(
            id=1,
            seq=last.seq,
            hash=last.hash,
            purged_before=cutoff,
            last_at=last.at,
            anchored_at=now,
            signature=signature,
        )
    )
    await session.execute(delete(tables.purge_guard))
    return int(getattr(result, "rowcount", 0) or 0)


def check_anchor(row: AnyRow, keys: KeyRing) -> str | None:
    """What is wrong with the anchor a purged chain starts from, if anything: it must be
    signed by the node, its last dropped entry older than its cut-off, and its cut-off
    at least the minimum retention before the purge."""
    if row.signature is None or row.last_at is None or row.anchored_at is None:
        return "the anchor is not signed by the node: a forged purge"
    times = (row.purged_before, row.last_at, row.anchored_at)
    signed = anchor_bytes(int(row.seq), str(row.hash), *times)
    if not keys.signs(bytes(row.signature), signed):
        return "the anchor is not signed by the node: a forged purge"
    if row.last_at >= row.purged_before or row.purged_before > row.anchored_at - MIN_RETENTION:
        return "the anchor drops entries younger than the retention period: a forged purge"
    return None


def operator_read_logger(
    tables: LookupTables, key: ed25519.Ed25519PrivateKey, node: str
) -> Callable[..., Awaitable[None]]:
    """What a serving node's operator API calls on every record read: the read goes into
    the same provision log as any ministry lookup (and so into disclosures)."""

    async def log_read(session: AsyncSession, code: str, *, found: bool) -> None:
        provision = Provision(
            at=utcnow(),
            client=f"{node}#operator-api",
            affair="operator-read",
            query_kind="by_code",
            outcome="provided" if found else "not_found",
            reason=None,
            residents=[code] if found else [],
            fields=list(OPERATOR_FIELDS) if found else [],
        )
        await append(session, tables, provision, key)

    return log_read


OPERATOR_FIELDS = (
    "resident_code", "name", "name_kana", "former_surname", "former_surname_kana",
    "nationality", "alias", "alias_kana", "birth_date", "sex", "address",
    "change_reason", "change_date", "status",
)  # fmt: skip
