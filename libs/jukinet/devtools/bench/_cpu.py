"""CPU time per operation, summed over the federation's own processes.

Throughput on a shared machine also measures the load generator and the neighbours; CPU
seconds do not. A :class:`CpuMeter` reads, before and after a phase, the CPU time
(user + system) of every process the federation runs — nats-server, each node, each
lookup server — and of the PostgreSQL backends connected to the run's databases; the
difference divided by the operations done is the figure. The load generator (this
process) is measured apart, so that it can be shown not to be the bottleneck.

A PostgreSQL backend that connects and exits within the phase is not seen (the nodes'
pools keep theirs open, so this misses little); nothing else is estimated.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass

import asyncpg
import psutil

from jukinet.devtools.localfed import LocalFederation

__all__ = ["CpuMeter", "CpuUse"]


@dataclass
class CpuUse:
    """What one phase cost: CPU seconds of the federation and of the load generator."""

    federation_s: float = 0.0
    generator_s: float = 0.0
    wall_s: float = 0.0

    def per_op_us(self, operations: int) -> float:
        return self.federation_s / operations * 1e6 if operations else float("nan")

    @property
    def generator_share(self) -> float:
        """The load generator's CPU, in cores (1.0: one core busy the whole phase)."""
        return self.generator_s / self.wall_s if self.wall_s else float("nan")


def _cpu_seconds(pids: Iterable[int]) -> dict[int, float]:
    seconds: dict[int, float] = {}
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            times = psutil.Process(pid).cpu_times()
            seconds[pid] = times.user + times.system
    return seconds


class CpuMeter:
    """Measures phases of a running federation (``databases``: the PostgreSQL database
    names of its nodes, whose backends count too; ``admin_url`` reaches that server)."""

    def __init__(
        self, fed: LocalFederation, admin_url: str | None = None, databases: Iterable[str] = ()
    ) -> None:
        self._fed = fed
        self._admin_url = admin_url
        self._databases = sorted(databases)
        self._me = psutil.Process()

    async def _pids(self) -> set[int]:
        pids = {p for p in self._fed.pids() if p is not None}
        for pid in list(pids):
            with contextlib.suppress(psutil.Error):
                pids.update(c.pid for c in psutil.Process(pid).children(recursive=True))
        return pids | await self._backends()

    async def _backends(self) -> set[int]:
        if self._admin_url is None or not self._databases:
            return set()
        conn = await asyncpg.connect(self._admin_url)
        try:
            rows = await conn.fetch(
                "SELECT pid FROM pg_stat_activity WHERE datname = ANY($1::text[])",
                self._databases,
            )
        finally:
            await conn.close()
        return {int(r["pid"]) for r in rows}

    def _mine(self) -> float:
        times = self._me.cpu_times()
        return times.user + times.system

    @contextlib.asynccontextmanager
    async def measure(self) -> AsyncIterator[CpuUse]:
        """The CPU of the federation and of this process while the block runs; the block
        should wait until its operations are done everywhere (stored at the agency)."""
        use = CpuUse()
        before = _cpu_seconds(await self._pids())
        mine, start = self._mine(), time.perf_counter()
        yield use
        use.wall_s = time.perf_counter() - start
        use.generator_s = self._mine() - mine
        after = _cpu_seconds(await self._pids())
        use.federation_s = sum(s - before.get(pid, 0.0) for pid, s in after.items())
