"""What verifying a hash-chained log reports (the provision log, the operation log)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519

__all__ = ["FORGED", "GENESIS", "ChainReport", "KeyRing", "check_entry"]

GENESIS = "0" * 64  # the "previous hash" of a chain's first entry
FORGED = "its signature is not the node's: the entry was forged"


def _signs(key: ed25519.Ed25519PublicKey, signature: bytes, data: bytes) -> bool:
    try:
        key.verify(signature, data)
    except InvalidSignature:
        return False
    return True


@dataclass(frozen=True)
class KeyRing:
    """The keys a chain is checked with: ``own`` — every signing key the node has had,
    each certified by the federation CA for that node — decides; ``others`` (other
    nodes' certified keys, by principal URI) only explains a failure, so that a log
    checked under the wrong node is told apart from a forged one."""

    own: Sequence[ed25519.Ed25519PublicKey]
    others: dict[str, Sequence[ed25519.Ed25519PublicKey]] = field(default_factory=dict)

    def signs(self, signature: bytes, data: bytes) -> bool:
        return any(_signs(key, signature, data) for key in self.own)

    def other_signer(self, signature: bytes, data: bytes) -> str | None:
        """The other node whose key made ``signature``, if any."""
        for principal, keys in self.others.items():
            if any(_signs(key, signature, data) for key in keys):
                return principal
        return None

    @classmethod
    def of(cls, keys: KeyRing | Sequence[ed25519.Ed25519PublicKey]) -> KeyRing:
        return keys if isinstance(keys, KeyRing) else cls(list(keys))


@dataclass(frozen=True)
class ChainReport:
    checked: int
    broken_at: int | None
    problem: str | None

    @property
    def intact(self) -> bool:
        return self.broken_at is None


def check_entry(
    row: Any,
    seq: int,
    prev: str,
    digest: str,
    keys: KeyRing | Sequence[ed25519.Ed25519PublicKey],
) -> str | None:
    """What breaks at this entry, if anything: its place, its link to the entry before,
    its content (``digest`` is recomputed from its fields), its signature (by any key
    the node has had; a signature by another node's key is named as such)."""
    if row.seq != seq:
        return f"expected entry {seq} here: an entry was deleted or inserted"
    if row.prev_hash != prev:
        return "does not link to the entry before it: inserted or reordered"
    if digest != row.hash:
        return "its content does not match its hash: the entry was altered"
    ring = KeyRing.of(keys)
    if ring.signs(row.signature, row.hash.encode()):
        return None
    other = ring.other_signer(row.signature, row.hash.encode())
    if other is not None:
        return (
            f"signed by another node's key ({other}), not this node's: "
            "the log belongs to that node (check --node)"
        )
    return FORGED
