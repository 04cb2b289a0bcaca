"""The provision ledger: every lookup's provision (or refusal) is committed to the chained
log — and its quota charged — before the caller sees any data.

Lookups arriving together are committed together: one writer task takes whatever is
queued, charges the quotas in arrival order under their row locks, appends all entries
to the chain in one transaction, evaluates the monitoring rules once per client, commits,
and only then releases the waiting requests. Concurrent lookups therefore share one
chain lock and one commit instead of queueing for them one by one (group commit), and a
lookup whose quota ran out meanwhile is refused and logged as refused, never answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jukinet.lookups._authorize import Grant, charge
from jukinet.lookups._chain import Provision, append_many
from jukinet.lookups._monitor import JST, MonitorRules, observe, purge_activity
from jukinet.lookups._store import LookupTables

__all__ = ["ProvisionLedger"]

log = logging.getLogger("jukinet.lookups.ledger")
QUOTA_EXHAUSTED = "quota_exhausted"
ACTIVITY_KEPT = dt.timedelta(hours=1)  # the rules read ten minutes


@dataclass
class _Pending:
    provision: Provision
    grant: Grant | None  # the grant to charge; None for a refusal (nothing to charge)
    count: int
    asked: list[str]  # the codes asked about, logged if the lookup is refused here
    done: asyncio.Future[Provision] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class ProvisionLedger:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        tables: LookupTables,
        key: ed25519.Ed25519PrivateKey,
        rules: MonitorRules,
        *,
        max_batch: int = 1000,
    ) -> None:
        self._sessions = sessions
        self._tables = tables
        self._key = key
        self._rules = rules
        self._max_batch = max_batch
        self._queue: list[_Pending] = []
        self._inflight: list[_Pending] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._forgotten: dt.datetime | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="provision-ledger")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for pending in [*self._inflight, *self._queue]:
            if not pending.done.done():
                pending.done.set_exception(RuntimeError("the lookup server is stopping"))
        self._queue.clear()
        self._inflight = []

    async def record(
        self,
        provision: Provision,
        *,
        grant: Grant | None,
        count: int,
        asked: Sequence[str] = (),
    ) -> Provision:
        """Commit ``provision`` (charging ``count`` against ``grant``'s quota) and return
        it as logged: a provision whose quota ran out comes back as a refusal, which
        names the codes ``asked`` about, as every refusal does."""
        if self._task is None or self._task.done():
            raise RuntimeError("the provision ledger is not running")
        pending = _Pending(provision, grant, count, list(asked))
        self._queue.append(pending)
        self._wake.set()
        return await asyncio.shield(pending.done)

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                self._inflight = self._queue[: self._max_batch]
                del self._queue[: len(self._inflight)]
                await self._commit(self._inflight)
                self._inflight = []

    async def _commit(self, batch: list[_Pending]) -> None:
        try:
            async with self._sessions() as session, session.begin():
                logged = await self._write(session, batch)
        except Exception as exc:
            log.error("provision ledger commit failed: %s", type(exc).__name__)
            for pending in batch:
                if not pending.done.done():
                    pending.done.set_exception(RuntimeError("the provision was not logged"))
            return
        for pending, provision in zip(batch, logged, strict=True):
            if not pending.done.done():  # the request may have been cancelled
                pending.done.set_result(provision)

    async def _write(self, session: AsyncSession, batch: list[_Pending]) -> list[Provision]:
        charged = await self._charge(session, batch)
        logged = [
            p.provision if ok else _refused(p.provision, p.asked)
            for p, ok in zip(batch, charged, strict=True)
        ]
        await append_many(session, self._tables, logged, self._key)
        by_client: dict[str, list[Provision]] = {}
        for provision in logged:
            by_client.setdefault(provision.client, []).append(provision)
        for client, provisions in by_client.items():
            await observe(session, self._tables, self._rules, client, provisions)
        await self._forget_activity(session, max(p.at for p in logged))
        return logged

    async def _forget_activity(self, session: AsyncSession, now: dt.datetime) -> None:
        """Once a minute, drop activity counters the rules no longer read."""
        if self._forgotten is not None and now - self._forgotten < dt.timedelta(minutes=1):
            return
        await purge_activity(session, self._tables, now - ACTIVITY_KEPT)
        self._forgotten = now

    async def _charge(self, session: AsyncSession, batch: list[_Pending]) -> list[bool]:
        """Charge each provision against its grant's quota for its day, in arrival order."""
        charged = [True] * len(batch)
        groups: dict[tuple[str, str, dt.date], tuple[Grant, list[int]]] = {}
        for index, pending in enumerate(batch):
            if pending.grant is not None:
                day = pending.provision.at.astimezone(JST).date()
                key = (pending.grant.client, pending.grant.affair, day)
                groups.setdefault(key, (pending.grant, []))[1].append(index)
        for (_, _, day), (grant, indexes) in sorted(groups.items(), key=lambda g: g[0]):
            counts = [batch[i].count for i in indexes]
            results = await charge(session, self._tables, grant, day, counts)
            for i, ok in zip(indexes, results, strict=True):
                charged[i] = ok
        return charged


def _refused(p: Provision, asked: list[str]) -> Provision:
    return dataclasses.replace(
        p, outcome="refused", reason=QUOTA_EXHAUSTED, residents=asked, fields=[]
    )
