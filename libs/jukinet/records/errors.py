"""What the record store refuses, in one place.

Each refusal has a stable ``reason`` code and a ``detail`` naming kinds, never values.
They are the store's own: the message handlers at a tier's boundary turn them into the
bus's ``Rejected`` (:func:`jukinet.records.refusals.rejected`) with the same reason and
detail, so dead letters and refusal notices read exactly as they always did.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = ["CodeNotDesignated", "ForeignRecord", "ForeignResident", "RecordRefused"]


class RecordRefused(Exception):
    """A change or repair this tier's record store will not make."""

    reason: ClassVar[str]

    def __init__(self, detail: str) -> None:
        super().__init__(f"{self.reason}: {detail}")
        self.detail = detail


class ForeignRecord(RecordRefused):
    """A change names another municipality than the one that sent it."""

    reason = "foreign_record"


class ForeignResident(RecordRefused):
    """A municipality tried to change a record another municipality holds: refused
    (dead-lettered and alerted) rather than overwrite that municipality's resident."""

    reason = "foreign_resident"


class CodeNotDesignated(RecordRefused):
    """A code new to this tier that was not designated to the town recording it."""

    reason = "code_not_designated"
