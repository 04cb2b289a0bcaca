"""A node's chained log against the checkpoints its witness holds.

The walk of a chain (``verify_chain``, ``verify_operations``) proves every entry it finds;
only an outside checkpoint proves that entries are missing from the end, or that the
whole log was rewritten with the node's key. Every checkpoint compared here has
already been checked to be signed by the node.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from jukinet.audit._checkpoints import Checkpoint

__all__ = ["Anchor", "Finding", "compare_with_checkpoints", "purge_contradiction"]

_IN_CHUNK = 500


@dataclass(frozen=True)
class Anchor:
    """Where a purged chain starts: the last purged entry and the purge's cut-off."""

    seq: int
    hash: str
    purged_before: dt.datetime


@dataclass(frozen=True)
class Finding:
    entry: int
    problem: str


def _when(c: Checkpoint) -> str:
    return f"{c.sealed_at.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S} UTC"


async def compare_with_checkpoints(
    session: AsyncSession,
    log: Table,
    checkpoints: Sequence[Checkpoint],
    anchor: Anchor | None = None,
) -> Finding | None:
    """The first entry a checkpoint vouches for that the log no longer has as it was:
    a missing entry at the end is a cut tail, one in the middle a deletion, another
    hash a rewrite. Checkpoints of entries purged behind ``anchor`` are skipped (its
    own entry must match)."""
    start = anchor.seq if anchor is not None else 0
    relevant = sorted((c for c in checkpoints if c.seq >= start), key=lambda c: c.seq)
    if not relevant:
        return None
    held = await _hashes(session, log, sorted({c.seq for c in relevant if c.seq > start}))
    last = int(await session.scalar(select(func.max(log.c.seq))) or start)
    for c in relevant:
        if anchor is not None and c.seq == anchor.seq:
            if c.hash != anchor.hash:
                return Finding(c.seq, f"the anchor differs from the checkpoint of {_when(c)}")
            continue
        found = held.get(c.seq)
        if found is None and c.seq > last:
            return Finding(
                last + 1,
                f"cut tail: the witness's checkpoint of {_when(c)} vouches for {c.seq} entries,"
                f" the log ends at entry {last}",
            )
        if found is None:
            return Finding(c.seq, f"missing: the checkpoint of {_when(c)} vouches for it")
        if found != c.hash:
            return Finding(c.seq, f"rewritten: it differs from the checkpoint of {_when(c)}")
    return None


async def _hashes(session: AsyncSession, log: Table, seqs: list[int]) -> dict[int, str]:
    found: dict[int, str] = {}
    for i in range(0, len(seqs), _IN_CHUNK):
        chunk = seqs[i : i + _IN_CHUNK]
        rows = await session.execute(select(log.c.seq, log.c.hash).where(log.c.seq.in_(chunk)))
        found.update({int(seq): str(digest) for seq, digest in rows})
    return found


def purge_contradiction(checkpoints: Sequence[Checkpoint], anchor: Anchor) -> Finding | None:
    """A purge drops entries older than its cut-off; a checkpoint sealed at or after the
    cut-off that shows the chain still short of the anchor's entry proves some dropped
    entries were younger than that: the anchor lies about the purge."""
    for c in sorted(checkpoints, key=lambda c: c.seq):
        if c.seq < anchor.seq and c.sealed_at >= anchor.purged_before:
            return Finding(
                anchor.seq,
                f"forged purge: entries up to {anchor.seq} were dropped as older than "
                f"{anchor.purged_before:%Y-%m-%d}, but the checkpoint of {_when(c)} shows "
                f"the log then ended at entry {c.seq}",
            )
    return None
