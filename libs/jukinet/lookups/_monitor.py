"""Suspicious-pattern monitoring over the provision log: alerts, and automatic suspension
of a client until an administrator reinstates it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from jukinet.lookups._store import LookupTables
from jukinet.pki import utcnow

__all__ = ["MonitorRules", "check_client", "reinstate"]

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


async def check_client(
    session: AsyncSession, tables: LookupTables, rules: MonitorRules, client: str, now: dt.datetime
) -> list[str]:
    """Evaluate every rule for ``client``; record new alerts; suspend if a rule says so.
    Returns the rules that fired."""
    fired = []
    log, subjects = tables.provisions, tables.provision_subjects
    since = await _reinstated_at(session, tables, client)
    minute = max(now - dt.timedelta(minutes=1), since)
    ten = max(now - dt.timedelta(minutes=10), since)
    recent = select(func.count()).where(log.c.client == client, log.c.at > minute)
    if (await session.scalar(recent) or 0) > rules.max_per_minute:
        fired.append(("rate", f"more than {rules.max_per_minute} lookups in a minute"))
    touched = (
        select(func.count())
        .select_from(subjects.join(log, subjects.c.seq == log.c.seq))
        .where(log.c.client == client, log.c.at > ten)
    )
    if (await session.scalar(touched) or 0) > rules.max_residents_per_10_minutes:
        limit = rules.max_residents_per_10_minutes
        fired.append(("many_residents", f"more than {limit} residents in ten minutes"))
    refused = select(func.count()).where(
        log.c.client == client, log.c.at > ten, log.c.outcome == "refused"
    )
    if (await session.scalar(refused) or 0) >= rules.max_refusals_per_10_minutes:
        limit = rules.max_refusals_per_10_minutes
        fired.append(("repeated_refusals", f"{limit} or more refusals in ten minutes"))
    start, end = rules.hours_jst
    if not start <= now.astimezone(JST).hour < end:
        fired.append(("outside_hours", f"activity outside {start:02d}:00-{end:02d}:00 JST"))
    for rule, detail in fired:
        await _alert(session, tables, rules, client, rule, detail, now)
    return [rule for rule, _ in fired]


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
