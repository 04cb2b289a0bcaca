"""Per-source limits on login: a rate limit (token bucket) and a back-off that grows
with each failed attempt from the same source.

They slow whoever guesses without touching the operator's own account: a stranger's
failures make *that source* wait, never lock the operator out (an operator's lockout
counts only attempts made with their own card). State is in memory, per process, and
bounded: the least recently seen sources are forgotten first.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["LoginGate", "ThrottlePolicy"]


@dataclass(frozen=True)
class ThrottlePolicy:
    """``per_minute`` login attempts per source (also the burst); from the
    ``free_failures``-th failure in a row on, the source waits ``base_delay`` seconds,
    doubled by each further failure up to ``max_delay``; a success, or ``forget_after``
    seconds of quiet, starts over."""

    per_minute: int = 30
    free_failures: int = 3
    base_delay: float = 1.0
    max_delay: float = 300.0
    forget_after: float = 900.0
    max_sources: int = 50_000


@dataclass
class _Source:
    tokens: float
    refilled: float
    failures: int = 0
    last_failure: float = 0.0
    blocked_until: float = 0.0


class LoginGate:
    """Decides whether a source may try a login now."""

    def __init__(
        self,
        policy: ThrottlePolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.policy = policy or ThrottlePolicy()
        self._clock = clock
        self._sources: OrderedDict[str, _Source] = OrderedDict()

    def admit(self, source: str) -> float | None:
        """None if the source may try now (and one attempt is spent); otherwise how many
        seconds it must wait."""
        now = self._clock()
        state = self._state(source, now)
        if state.blocked_until > now:
            return state.blocked_until - now
        rate = self.policy.per_minute / 60.0
        state.tokens = min(
            float(self.policy.per_minute), state.tokens + (now - state.refilled) * rate
        )
        state.refilled = now
        if state.tokens < 1.0:
            return (1.0 - state.tokens) / rate
        state.tokens -= 1.0
        return None

    def failed(self, source: str) -> None:
        """A failed attempt: past the free ones, the source waits twice as long as before."""
        now = self._clock()
        state = self._state(source, now)
        state.failures += 1
        state.last_failure = now
        beyond = state.failures - self.policy.free_failures
        if beyond >= 0:
            delay = self.policy.base_delay * 2.0 ** min(beyond, 32)
            state.blocked_until = now + min(self.policy.max_delay, delay)

    def succeeded(self, source: str) -> None:
        state = self._sources.get(source)
        if state is not None:
            state.failures, state.blocked_until = 0, 0.0

    def _state(self, source: str, now: float) -> _Source:
        state = self._sources.get(source)
        if state is None:
            state = _Source(tokens=float(self.policy.per_minute), refilled=now)
            self._sources[source] = state
            while len(self._sources) > self.policy.max_sources:
                self._sources.popitem(last=False)
        else:
            self._sources.move_to_end(source)
        quiet = now - state.last_failure > self.policy.forget_after
        if state.failures and quiet and state.blocked_until <= now:
            state.failures = 0
        return state
