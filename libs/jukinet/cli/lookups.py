"""`jukinet permissions`, `jukinet audit` and `jukinet clients`: the lookup administration
of a serving node (agency or prefecture), working on its database directly."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import MetaData, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession

from jukinet.audit import (
    Anchor,
    CertifiedKeys,
    Checkpoint,
    certified_keys,
    checkpoint_table,
    checkpoints_of,
    compare_with_checkpoints,
    purge_contradiction,
)
from jukinet.cli._errors import database_url
from jukinet.contracts.chains import KeyRing
from jukinet.contracts.principals import Principal
from jukinet.db.engine import create_engine, session_factory
from jukinet.lookups import (
    load_permissions,
    load_table,
    lookup_tables,
    permissions_in_force,
    purge_before,
    reinstate,
    verify_chain,
)
from jukinet.operators import (
    Actor,
    Operation,
    Role,
    append_operation,
    operator_tables,
    verify_operations,
)
from jukinet.pki import Credentials, PkiLayout, TrustStore, read_certificate, utcnow

permissions = typer.Typer(help="The permission table of a serving node.", no_args_is_help=True)
audit = typer.Typer(
    help="Verify the operation and provision logs; purge old provisions.", no_args_is_help=True
)
clients = typer.Typer(help="Lookup clients: suspension and reinstatement.", no_args_is_help=True)
console = Console(width=200)
# inside a node's container (`docker compose run <node> jukinet …`) the node's own
# settings name its database, principal and PKI
_SERVICES = ("MUNICIPAL", "PREFECTURE", "AGENCY")
DbOpt = Annotated[
    str,
    typer.Option(
        "--db",
        envvar=["DATABASE_URL", *(f"JUKINET_{s}_DATABASE_URL" for s in _SERVICES)],
        help="The node database: a URL or a SQLite file.",
    ),
]
NODE_ENV = [f"JUKINET_{s}_PRINCIPAL" for s in _SERVICES]
PKI_ENV = ["JUKINET_PKI", *(f"JUKINET_{s}_PKI_ROOT" for s in _SERVICES)]
TABLES = lookup_tables(MetaData())
OPERATOR_TABLES = operator_tables(MetaData())
CHECKPOINTS = checkpoint_table(MetaData())
_CLI = Actor("cli", Role.SYSTEM)  # someone with the database and the node's key
T = TypeVar("T")


def with_session(url: str, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    async def run() -> T:
        engine = create_engine(database_url(url))
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


Report = tuple[int, int | None, str | None]


@audit.command("verify")
def verify(
    db: DbOpt,
    node: Annotated[str, typer.Option(help="The node's principal URI.")],
    pki_root: Annotated[Path, typer.Option(envvar="JUKINET_PKI")] = Path("var/pki"),
    witness_db: Annotated[
        str | None,
        typer.Option(help="The database of the node that keeps this node's checkpoints."),
    ] = None,
) -> None:
    """Prove the node's operation log (and, on a serving node, its provision log) intact,
    or name the first entry that breaks each; with --witness-db, also that nothing a
    checkpoint kept outside the node vouches for has been cut or rewritten."""
    principal = Principal.parse(node)
    keys = _certified_keys(pki_root, principal)
    held: list[Checkpoint] | None = None
    if witness_db is not None:
        held = _vouched(witness_db, principal, keys.ring)
    reports = with_session(db, lambda s: _verify_logs(s, keys.ring, held))
    for name, (checked, broken_at, problem) in reports.items():
        if broken_at is None:
            console.print(f"[green]{name} intact: {checked} entries verified")
        else:
            console.print(f"[red]{name} broken at entry {broken_at}: {problem}")
            console.print(f"{checked} entries before it verified")
    if held is None:
        console.print(
            "[yellow]not compared with an outside checkpoint (--witness-db): "
            "a cut tail would go unseen"
        )
    if any(broken_at is not None for _, broken_at, _ in reports.values()):
        raise typer.Exit(1)


def _certified_keys(pki_root: Path, node: Principal) -> CertifiedKeys:
    """The node's signing keys, each certified by the federation CA for the node."""
    layout = PkiLayout(pki_root)
    keys = certified_keys(layout, TrustStore(read_certificate(layout.ca_cert)), node)
    for name in keys.ignored:
        console.print(f"[yellow]ignored {name}: not a signing certificate from the federation CA")
    if not keys.ring.own:
        raise typer.BadParameter("no signing certificate of that node from the federation CA")
    return keys


def _vouched(witness_db: str, node: Principal, ring: KeyRing) -> list[Checkpoint]:
    """The checkpoints the witness holds for ``node`` that the node itself signed."""
    held = with_session(witness_db, lambda s: checkpoints_of(s, CHECKPOINTS, node))
    signed = [c for c in held if c.signed_by(KeyRing(ring.own))]
    if len(signed) < len(held):
        console.print(f"[yellow]ignored {len(held) - len(signed)} checkpoints not signed by it")
    console.print(f"compared with {len(signed)} checkpoints kept outside the node")
    return signed


async def _verify_logs(
    session: AsyncSession, keys: KeyRing, held: list[Checkpoint] | None
) -> dict[str, Report]:
    tables = await session.run_sync(lambda s: set(inspect(s.connection()).get_table_names()))
    reports: dict[str, Report] = {}
    if "operation_log" in tables:
        ops = await verify_operations(session, OPERATOR_TABLES, keys)
        reports["operation log"] = (ops.checked, ops.broken_at, ops.problem)
    if "provision_log" in tables:
        provisions = await verify_chain(session, TABLES, keys)
        reports["provision log"] = (provisions.checked, provisions.broken_at, provisions.problem)
    if not reports:
        raise typer.BadParameter("that database holds no operation or provision log")
    if held is not None:
        await _compare(session, reports, held)
    return reports


async def _compare(
    session: AsyncSession, reports: dict[str, Report], held: list[Checkpoint]
) -> None:
    """Mark each log the walk found intact as broken where an outside checkpoint shows
    entries cut or rewritten, or a purge that lies about its entries' dates."""
    for log_name, table in (
        ("operation_log", OPERATOR_TABLES.operation_log),
        ("provision_log", TABLES.provisions),
    ):
        label = log_name.replace("_", " ")
        vouched = [c for c in held if c.log == log_name]
        checked, broken_at, _ = reports.get(label, (0, None, None))
        if broken_at is not None or not vouched:
            continue
        if label not in reports:
            reports[label] = (0, vouched[-1].seq, "the log is gone: checkpoints vouch for it")
            continue
        anchor = await _anchor(session) if log_name == "provision_log" else None
        finding = await compare_with_checkpoints(session, table, vouched, anchor)
        if finding is None and anchor is not None:
            finding = purge_contradiction(vouched, anchor)
        if finding is not None:
            reports[label] = (checked, finding.entry, finding.problem)


async def _anchor(session: AsyncSession) -> Anchor | None:
    a = TABLES.chain_anchor
    row = (await session.execute(select(a.c.seq, a.c.hash, a.c.purged_before))).first()
    return Anchor(int(row.seq), str(row.hash), row.purged_before) if row is not None else None


@audit.command("purge")
def purge(
    db: DbOpt,
    node: Annotated[str, typer.Option(help="The node's principal URI (its key signs the anchor).")],
    pki_root: Annotated[Path, typer.Option(envvar="JUKINET_PKI")] = Path("var/pki"),
    keep_days: Annotated[int, typer.Option(min=365)] = 7 * 365,
) -> None:
    """Drop provision-log entries older than the retention period (default 7 years).

    Privileged: the new anchor is signed with the node's own key (without it, a purge
    does not verify) and the purge is chained into the node's operation log."""
    principal = Principal.parse(node)
    layout = PkiLayout(pki_root)
    credentials = Credentials.load(layout.node_dir(principal), layout.ca_cert, principal)
    key, _ = credentials.require_signing()
    cutoff = utcnow() - dt.timedelta(days=keep_days)

    async def run(session: AsyncSession) -> int:
        dropped = await purge_before(session, TABLES, cutoff, key)
        operation = Operation.of(_CLI, "audit.purge", "provision_log", f"ok:dropped={dropped}")
        await append_operation(session, OPERATOR_TABLES, operation, key)
        return dropped

    dropped = with_session(db, run)
    console.print(f"dropped {dropped} entries older than {cutoff:%Y-%m-%d}")


@clients.command("reinstate")
def reinstate_client(client: str, db: DbOpt) -> None:
    """Lift a client's suspension."""
    if not with_session(db, lambda s: reinstate(s, TABLES, client)):
        console.print(f"[yellow]{client} is not suspended")
        raise typer.Exit(1)
    console.print(f"{client} reinstated")
