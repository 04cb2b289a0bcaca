"""Putting a permission table into a node's database, and reporting what is in force."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from jukinet.lookups._store import LookupTables
from jukinet.lookups._table import PermissionTable

__all__ = ["load_permissions", "permissions_in_force"]


async def load_permissions(
    session: AsyncSession, tables: LookupTables, table: PermissionTable
) -> dict[str, int]:
    """Replace the grants with ``table``'s; keep each client's suspension state."""
    c, g = tables.clients, tables.grants
    suspended = {
        row.client: (row.suspended_at, row.suspended_reason)
        for row in await session.execute(select(c).where(c.c.suspended_at.is_not(None)))
    }
    await session.execute(delete(g))
    await session.execute(delete(c))
    for client in table.clients:
        at, reason = suspended.get(client.id, (None, None))
        await session.execute(
            c.insert().values(
                client=client.id,
                organisation=client.organisation,
                sector=client.sector.value,
                suspended_at=at,
                suspended_reason=reason,
                table_version=table.version,
            )
        )
    for grant in table.grants:
        await session.execute(
            g.insert().values(
                client=grant.client,
                affair=grant.affair,
                item=grant.item,
                title=grant.title,
                legal_basis=grant.legal_basis,
                query_kinds=",".join(sorted(k.value for k in grant.query_kinds)),
                fields=",".join(sorted(grant.fields)),
                valid_from=grant.valid_from,
                valid_until=grant.valid_until,
                daily_quota=grant.daily_quota,
                table_version=table.version,
            )
        )
    return {"clients": len(table.clients), "grants": len(table.grants)}


async def permissions_in_force(session: AsyncSession, tables: LookupTables) -> list[dict[str, Any]]:
    c, g = tables.clients, tables.grants
    rows = await session.execute(
        select(g, c.c.organisation, c.c.sector, c.c.suspended_at)
        .join(c, c.c.client == g.c.client)
        .order_by(g.c.client, g.c.affair)
    )
    return [dict(row._mapping) for row in rows]
