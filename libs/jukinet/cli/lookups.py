"""`jukinet permissions`, `jukinet audit` and `jukinet clients`: the lookup administration
of a serving node (agency or prefecture), working on its database directly."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from cryptography.hazmat.primitives.asymmetric import ed25519
from rich.console import Console
from rich.table import Table
from sqlalchemy import MetaData, inspect
from sqlalchemy.ext.asyncio import AsyncSession

from jukinet.db import create_engine, session_factory
from jukinet.lookups import (
    load_permissions,
    load_table,
    lookup_tables,
    permissions_in_force,
    purge_before,
    reinstate,
    verify_chain,
)
from jukinet.operators import operator_tables, verify_operations
from jukinet.pki import PkiLayout, utcnow
from jukinet.principals import Principal

permissions = typer.Typer(help="The permission table of a serving node.", no_args_is_help=True)
audit = typer.Typer(
    help="Verify the operation and provision logs; purge old provisions.", no_args_is_help=True
)
clients = typer.Typer(help="Lookup clients: suspension and reinstatement.", no_args_is_help=True)
console = Console(width=200)
DbOpt = Annotated[str, typer.Option("--db", envvar="DATABASE_URL", help="The node's database URL.")]
TABLES = lookup_tables(MetaData())
OPERATOR_TABLES = operator_tables(MetaData())
T = TypeVar("T")


def with_session(url: str, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    async def run() -> T:
        engine = create_engine(url)
        try:
            async with session_factory(engine)() as session, session.begin():
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(run())


@permissions.command("load")
def load(file: Annotated[Path, typer.Argument(exists=True)], db: DbOpt) -> None:
    """Load a permission table file (replaces the grants; keeps suspensions)."""
    table = load_table(file)
    counts = with_session(db, lambda s: load_permissions(s, TABLES, table))
    console.print(
        f"loaded table {table.version}: {counts['clients']} clients, {counts['grants']} grants"
    )


@permissions.command("show")
def show(db: DbOpt) -> None:
    """Report the permission table in force."""
    rows: list[dict[str, Any]] = with_session(db, lambda s: permissions_in_force(s, TABLES))
    table = Table(title="permission table in force")
    for column in ("client", "organisation", "affair", "kinds", "valid", "quota/day", "state"):
        table.add_column(column, no_wrap=True)
    for column in ("item", "fields"):
        table.add_column(column, overflow="fold")
    for r in rows:
        state = "[red]suspended" if r["suspended_at"] else "active"
        valid = f"{r['valid_from']}..{r['valid_until']}"
        table.add_row(
            r["client"], r["organisation"], r["affair"], r["query_kinds"], valid,
            f"{r['daily_quota']:,}", state, r["item"], r["fields"],
        )  # fmt: skip
    console.print(table)


@audit.command("verify")
def verify(
    db: DbOpt,
    node: Annotated[str, typer.Option(help="The node's principal URI.")],
    pki_root: Annotated[Path, typer.Option(envvar="JUKINET_PKI")] = Path("var/pki"),
) -> None:
    """Prove the node's operation log (and, on a serving node, its provision log) intact,
    or name the first entry that breaks each."""
    principal = Principal.parse(node)
    keys = [c.public_key() for c in PkiLayout(pki_root).signing_history(principal)]
    ed_keys = [k for k in keys if isinstance(k, ed25519.Ed25519PublicKey)]
    if not ed_keys:
        raise typer.BadParameter("no Ed25519 signing certificate for that node")
    reports = with_session(db, lambda s: _verify_logs(s, ed_keys))
    for name, (checked, broken_at, problem) in reports.items():
        if broken_at is None:
            console.print(f"[green]{name} intact: {checked} entries verified")
        else:
            console.print(f"[red]{name} broken at entry {broken_at}: {problem}")
            console.print(f"{checked} entries before it verified")
    if any(broken_at is not None for _, broken_at, _ in reports.values()):
        raise typer.Exit(1)


async def _verify_logs(
    session: AsyncSession, keys: list[ed25519.Ed25519PublicKey]
) -> dict[str, tuple[int, int | None, str | None]]:
    tables = await session.run_sync(lambda s: set(inspect(s.connection()).get_table_names()))
    reports: dict[str, tuple[int, int | None, str | None]] = {}
    if "operation_log" in tables:
        ops = await verify_operations(session, OPERATOR_TABLES, keys)
        reports["operation log"] = (ops.checked, ops.broken_at, ops.problem)
    if "provision_log" in tables:
        provisions = await verify_chain(session, TABLES, keys)
        reports["provision log"] = (provisions.checked, provisions.broken_at, provisions.problem)
    if not reports:
        raise typer.BadParameter("that database holds no operation or provision log")
    return reports


@audit.command("purge")
def purge(db: DbOpt, keep_days: Annotated[int, typer.Option(min=365)] = 7 * 365) -> None:
    """Drop provision-log entries older than the retention period (default 7 years)."""
    cutoff = utcnow() - dt.timedelta(days=keep_days)
    dropped = with_session(db, lambda s: purge_before(s, TABLES, cutoff))
    console.print(f"dropped {dropped} entries older than {cutoff:%Y-%m-%d}")


@clients.command("reinstate")
def reinstate_client(client: str, db: DbOpt) -> None:
    """Lift a client's suspension."""
    if not with_session(db, lambda s: reinstate(s, TABLES, client)):
        console.print(f"[yellow]{client} is not suspended")
        raise typer.Exit(1)
    console.print(f"{client} reinstated")
