"""What verifying a hash-chained log reports (the provision log, the operation log)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519

__all__ = ["GENESIS", "ChainReport", "check_entry"]

GENESIS = "0" * 64  # the "previous hash" of a chain's first entry


@dataclass(frozen=True)
class ChainReport:
    checked: int
    broken_at: int | None
    problem: str | None

    @property
    def intact(self) -> bool:
        return self.broken_at is None


def check_entry(
    row: Any, seq: int, prev: str, digest: str, keys: list[ed25519.Ed25519PublicKey]
) -> str | None:
    """What breaks at this entry, if anything: its place, its link to the entry before,
    its content (``digest`` is recomputed from its fields), its signature (by any key
    the node has had)."""
    if row.seq != seq:
        return f"expected entry {seq} here: an entry was deleted or inserted"
    if row.prev_hash != prev:
        return "does not link to the entry before it: inserted or reordered"
    if digest != row.hash:
        return "its content does not match its hash: the entry was altered"
    for key in keys:
        try:
            key.verify(row.signature, row.hash.encode())
        except InvalidSignature:
            continue
        return None
    return "its signature is not the node's: the entry was forged"
