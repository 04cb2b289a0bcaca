"""Suspicious-pattern monitoring over the provision log: alerts, and automatic suspension
of a client until an administrator reinstates it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from jukinet.lookups._chain import Provision
from jukinet.lookups._store import LookupTables
from jukinet.pki import utcnow

__all__ = ["MonitorRules", "observe", "purge_activity", "reinstate"]

JST = dt.timezone(dt.timedelta(hours=9))


@dataclass(frozen=True)
class MonitorRules:
    max_per_minute: int = 600
    max_residents_per_10_minutes: int = 500_000
    max_refusals_per_10_minutes: int = 20
    hours_jst: tuple[int, int] = (6, 23)  # activity from 06:00 to before 23:00 JST
    suspend_on: frozenset[str] = field(
        default_factory=lambda: frozenset({"rate", "many_residents", "repeated_refusals"})
    )


async def observe(
    session: AsyncSession,
    tables: LookupTables,
    rules: MonitorRules,
    client: str,
    provisions: Sequence[Provision],
) -> list[str]:
    """Count ``provisions`` (all of ``client``, being logged in this transaction) into the
    client's activity, then evaluate every rule at the latest of them; record new alerts;
    suspend if a rule says so. Returns the rules that fired.

    Windows are whole seconds: activity in the second a window opens in is not counted.
    Activity before a reinstatement was judged already, so the rules look only after it
    (the second of a reinstatement starts a row of its own)."""
    since = await _reinstated_at(session, tables, client)
    await _count(session, tables, client, since, provisions)
    now = max(p.at for p in provisions)
    return await _evaluate(session, tables, rules, client, since, now)


async def _count(
    session: AsyncSession,
    tables: LookupTables,
    client: str,
    since: dt.datetime,
    provisions: Sequence[Provision],
) -> None:
    buckets: dict[dt.datetime, list[int]] = {}
    for p in provisions:
        bucket = buckets.setdefault(max(p.at.replace(microsecond=0), since), [0, 0, 0])
        bucket[0] += 1
        bucket[1] += len(set(p.residents))
        bucket[2] += p.outcome == "refused"
    a = tables.activity
    rows = [
        {"client": client, "since": at, "lookups": n, "residents": r, "refusals": f}
        for at, (n, r, f) in buckets.items()
    ]
    insert = _dialect_insert(session)(a).values(rows)
    added = {c: a.c[c] + insert.excluded[c] for c in ("lookups", "residents", "refusals")}
    key = [a.c.client, a.c.since]
    await session.execute(insert.on_conflict_do_update(index_elements=key, set_=added))


async def _evaluate(
    session: AsyncSession,
    tables: LookupTables,
    rules: MonitorRules,
    client: str,
    since: dt.datetime,
    now: dt.datetime,
) -> list[str]:
    a = tables.activity
    minute = max(now - dt.timedelta(minutes=1), since)
    ten = max(now - dt.timedelta(minutes=10), since)
    last_minute = func.sum(case((a.c.since >= minute, a.c.lookups), else_=0))
    sums = (last_minute, func.sum(a.c.residents), func.sum(a.c.refusals))
    totals = select(*(func.coalesce(s, 0) for s in sums))
    totals = totals.where(a.c.client == client, a.c.since >= ten)
    lookups, residents, refusals = (await session.execute(totals)).one()
    fired = []
    if lookups > rules.max_per_minute:
        fired.append(("rate", f"more than {rules.max_per_minute} lookups in a minute"))
    if residents > rules.max_residents_per_10_minutes:
        limit = rules.max_residents_per_10_minutes
        fired.append(("many_residents", f"more than {limit} residents in ten minutes"))
    if refusals >= rules.max_refusals_per_10_minutes:
        limit = rules.max_refusals_per_10_minutes
        fired.append(("repeated_refusals", f"{limit} or more refusals in ten minutes"))
    start, end = rules.hours_jst
    if not start <= now.astimezone(JST).hour < end:
        fired.append(("outside_hours", f"activity outside {start:02d}:00-{end:02d}:00 JST"))
    for rule, detail in fired:
        await _alert(session, tables, rules, client, rule, detail, now)
    return [rule for rule, _ in fired]


def _dialect_insert(session: AsyncSession) -> Any:
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


async def _reinstated_at(session: AsyncSession, tables: LookupTables, client: str) -> dt.datetime:
    """Activity before a reinstatement was judged already; rules look only after it."""
    c = tables.clients
    name = client.rsplit("/", 1)[-1]
    at = await session.scalar(select(c.c.reinstated_at).where(c.c.client == name))
    return at if at is not None else dt.datetime.min.replace(tzinfo=dt.UTC)


async def _alert(
    session: AsyncSession,
    tables: LookupTables,
    rules: MonitorRules,
    client: str,
    rule: str,
    detail: str,
    now: dt.datetime,
) -> None:
    a = tables.alerts
    window = now - dt.timedelta(minutes=10)
    exists = select(func.count()).where(a.c.client == client, a.c.rule == rule, a.c.at > window)
    if await session.scalar(exists):
        return  # one alert per rule and client per ten minutes
    suspend = rule in rules.suspend_on
    await session.execute(
        a.insert().values(at=now, client=client, rule=rule, detail=detail, suspended=int(suspend))
    )
    if suspend:
        name = client.rsplit("/", 1)[-1]
        c = tables.clients
        await session.execute(
            update(c)
            .where(c.c.client == name, c.c.suspended_at.is_(None))
            .values(suspended_at=now, suspended_reason=f"automatic: {rule}")
        )


async def reinstate(session: AsyncSession, tables: LookupTables, client: str) -> bool:
    c = tables.clients
    result = await session.execute(
        update(c)
        .where(c.c.client == client, c.c.suspended_at.is_not(None))
        .values(suspended_at=None, suspended_reason=None, reinstated_at=utcnow())
    )
    return bool(getattr(result, "rowcount", 0))


async def purge_activity(session: AsyncSession, tables: LookupTables, before: dt.datetime) -> int:
    """Drop activity counters older than ``before`` (the rules read ten minutes)."""
    a = tables.activity
    result = await session.execute(delete(a).where(a.c.since < before))
    return int(getattr(result, "rowcount", 0) or 0)
