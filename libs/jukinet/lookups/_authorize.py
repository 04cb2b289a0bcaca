"""Deciding a lookup: the permission table, validity, quota, suspension and sector."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from sqlalchemy import Select, Table, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import Executable

from jukinet.lookups._store import LookupTables
from jukinet.lookups._table import BY_CODE_KINDS, QueryKind, Sector
from jukinet.node.problems import Problem

__all__ = ["Grant", "Refused", "authorize", "charge"]


class Refused(Problem):
    """A lookup the law does not permit. ``reason`` is machine-readable."""

    status = 403
    type = "lookup-refused"
    title = "The lookup is not permitted"
    reasons: ClassVar[Mapping[str, str]] = {
        "not_a_lookup_client": "the caller is not a registered lookup client",
        "no_grant": "there is no grant for this client",
        "affair_not_permitted": "this client may not receive identity records for this affair",
        "query_kind_not_permitted": "this query kind is not permitted for this affair",
        "grant_expired": "the grant for this affair is not in force today",
        "quota_exhausted": "the daily quota for this affair is exhausted",
        "client_suspended": "this client is suspended",
        "not_government": "only government bodies may query by resident code",
    }

    def __init__(self, reason: str) -> None:
        super().__init__(self.reasons[reason], reason=reason)
        if reason == "quota_exhausted":
            self.status = 429  # type: ignore[misc]


@dataclass(frozen=True)
class Grant:
    client: str
    affair: str
    kinds: frozenset[QueryKind]
    fields: tuple[str, ...]
    valid_from: dt.date
    valid_until: dt.date
    daily_quota: int
    used_today: int = 0  # as read when the lookup was decided

    @property
    def remaining_today(self) -> int:
        return max(self.daily_quota - self.used_today, 0)


def _grant(row: Any) -> Grant:
    return Grant(
        client=row.client,
        affair=row.affair,
        kinds=frozenset(QueryKind(k) for k in row.query_kinds.split(",") if k),
        fields=tuple(f for f in row.fields.split(",") if f),
        valid_from=row.valid_from,
        valid_until=row.valid_until,
        daily_quota=row.daily_quota,
        used_today=int(row.used or 0),
    )


async def authorize(
    session: AsyncSession,
    tables: LookupTables,
    *,
    client: str,
    affair: str,
    kind: QueryKind,
    count: int,
    today: dt.date,
) -> Grant:
    """Return the grant that permits this lookup, or raise :class:`Refused` with the
    first reason that applies. The client, its grant for ``affair`` and today's usage
    are read in one query; the quota is checked here as read and charged exactly by the
    provision ledger when the lookup is logged."""
    query = _decision_query(tables)
    params = {"client": client, "affair": affair, "today": today}
    row = (await session.execute(query, params)).first()
    if row is None:
        raise Refused("no_grant")
    if row.suspended_at is not None:
        raise Refused("client_suspended")
    if row.sector == Sector.PRIVATE and kind in BY_CODE_KINDS:
        raise Refused("not_government")
    if row.affair is None:
        raise Refused("affair_not_permitted")
    grant = _grant(row)
    if kind not in grant.kinds:
        raise Refused("query_kind_not_permitted")
    if not grant.valid_from <= today <= grant.valid_until:
        raise Refused("grant_expired")
    if (row.used or 0) + count > grant.daily_quota:
        raise Refused("quota_exhausted")
    return grant


@functools.cache
def _decision_query(tables: LookupTables) -> Select[Any]:
    """Client, its grant for the affair and today's usage: one statement, built once."""
    c, g, u = tables.clients, tables.grants, tables.usage
    grant = (g.c.client == c.c.client) & (g.c.affair == bindparam("affair"))
    usage = (u.c.client == g.c.client) & (u.c.affair == g.c.affair)
    usage &= u.c.day == bindparam("today")
    return (
        select(c.c.suspended_at, c.c.sector, g, u.c.count.label("used"))
        .select_from(c.outerjoin(g, grant).outerjoin(u, usage))
        .where(c.c.client == bindparam("client"))
    )


async def charge(
    session: AsyncSession, tables: LookupTables, grant: Grant, today: dt.date, counts: list[int]
) -> list[bool]:
    """Charge lookups against today's quota of ``grant``, in order, under a row lock (the
    quota holds under concurrency on PostgreSQL); each is charged only if it still fits.
    Returns, for each, whether it was charged."""
    u = tables.usage
    key = (u.c.client == grant.client) & (u.c.affair == grant.affair) & (u.c.day == today)
    row = {"client": grant.client, "affair": grant.affair, "day": today, "count": 0}
    locked = select(u.c.count).where(key).with_for_update()
    current = (await session.execute(locked)).scalar()
    if current is None:  # today's first: create the counter (concurrent firsts must not collide)
        await session.execute(_insert_ignore(session, u, row))
        current = (await session.execute(locked)).scalar()
    used = int(current or 0)
    charged = []
    for count in counts:
        fits = used + count <= grant.daily_quota
        used += count if fits else 0
        charged.append(fits)
    await session.execute(update(u).where(key).values(count=used))
    return charged


def _insert_ignore(session: AsyncSession, table: Table, row: dict[str, object]) -> Executable:
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    if dialect == "postgresql":
        return postgresql.insert(table).values(row).on_conflict_do_nothing()
    return sqlite.insert(table).values(row).on_conflict_do_nothing()
