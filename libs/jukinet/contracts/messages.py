"""What every message handler shares: the refusal it raises and the batch naming rule."""

from __future__ import annotations

__all__ = ["BATCH_TYPE_SUFFIX", "Rejected"]

BATCH_TYPE_SUFFIX = ".batch"  # a message type carrying many items of the type before it


class Rejected(Exception):
    """Raised by a handler: the message is authentic, but its content is refused.

    ``reason`` is a stable code; ``detail`` names fields and kinds of error, never values.
    The inbox dead-letters the message (or the one change) with both.
    """

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
