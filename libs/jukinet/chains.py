"""What verifying a hash-chained log reports (the provision log, the operation log)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["GENESIS", "ChainReport"]

GENESIS = "0" * 64  # the "previous hash" of a chain's first entry


@dataclass(frozen=True)
class ChainReport:
    checked: int
    broken_at: int | None
    problem: str | None

    @property
    def intact(self) -> bool:
        return self.broken_at is None
