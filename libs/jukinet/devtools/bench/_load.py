"""Closed-loop load: ``concurrency`` workers call an operation back to back for a while;
the count, the rate and the latency percentiles come out."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

__all__ = ["LoadResult", "closed_loop", "percentile"]

Operation = Callable[[int], Awaitable[int]]  # takes the call's number, returns items done


@dataclass(frozen=True)
class LoadResult:
    calls: int
    items: int
    seconds: float
    latencies_ms: list[float]
    all_calls: int = 0  # the warm-up's too: what the CPU over the whole run was spent on
    all_items: int = 0

    @property
    def per_second(self) -> float:
        return self.calls / self.seconds

    @property
    def items_per_second(self) -> float:
        return self.items / self.seconds

    @property
    def p50(self) -> float:
        return percentile(self.latencies_ms, 50)

    @property
    def p99(self) -> float:
        return percentile(self.latencies_ms, 99)


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(pct) - 1]


async def closed_loop(
    operation: Operation, *, concurrency: int, seconds: float, warmup: float = 1.0
) -> LoadResult:
    """Run ``operation`` from ``concurrency`` workers; the first ``warmup`` seconds are
    not counted (connections open, caches fill)."""
    latencies: list[float] = []
    counted = [0, 0]
    begin = time.perf_counter()
    measure_from = begin + warmup
    stop_at = measure_from + seconds
    calls, items_all = 0, 0

    async def worker() -> None:
        nonlocal calls, items_all
        while (now := time.perf_counter()) < stop_at:
            calls += 1
            items = await operation(calls)
            items_all += items
            end = time.perf_counter()
            if now >= measure_from:
                latencies.append((end - now) * 1000)
                counted[0] += 1
                counted[1] += items

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - measure_from
    return LoadResult(counted[0], counted[1], elapsed, latencies, calls, items_all)
