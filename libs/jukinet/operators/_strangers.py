"""Requests refused before the caller proved who they are: counted, never chained.

Writing each into the signed operation log would let anyone grow it without end; so
they go to a metric by kind, and to at most one warning per window when there are many
of them (an alert an operations team can act on, that cannot flood the logs). Kinds are
fixed words; nothing the caller sent (a name, a slug, an address) is ever recorded.
"""

from __future__ import annotations

import logging
import time
from collections import Counter as Tally
from collections.abc import Callable

from prometheus_client import Counter

__all__ = ["AnonymousFailures"]

log = logging.getLogger("jukinet.operators.alerts")


class AnonymousFailures:
    """Counts anonymous failures; warns once per ``window`` seconds when ``threshold`` of
    them fell in it."""

    def __init__(
        self,
        counter: Counter,
        *,
        threshold: int = 20,
        window: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._counter = counter
        self.threshold = threshold
        self.window = window
        self._clock = clock
        self._start = clock()
        self._kinds: Tally[str] = Tally()
        self._alerted = False

    def note(self, kind: str) -> None:
        self._counter.labels(kind=kind).inc()
        now = self._clock()
        if now - self._start >= self.window:
            self._start, self._kinds, self._alerted = now, Tally(), False
        self._kinds[kind] += 1
        total = sum(self._kinds.values())
        if total >= self.threshold and not self._alerted:
            self._alerted = True
            kinds = ", ".join(f"{k}={n}" for k, n in sorted(self._kinds.items()))
            log.warning(
                "alert: %d requests refused before authentication within %d s (%s)",
                total,
                int(self.window),
                kinds,
                extra={"count": total},
            )
