"""`jukinet operators`: create an office's operators and their IC cards, list, unlock,
and log in with a card (prints a session token)."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import httpx
import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncSession

from jukinet.cli.lookups import NODE_ENV, PKI_ENV, DbOpt, with_session
from jukinet.contracts.principals import Principal
from jukinet.operators import (
    MIN_PASSWORD,
    Actor,
    IcCard,
    Operation,
    Role,
    append_operation,
    card_login,
    card_principal,
    issue_enrolment,
    list_operators,
    operator_tables,
    register_operator,
    replace_card,
    set_state,
    webauthn_tables,
)
from jukinet.pki import (
    CertificateAuthority,
    Credentials,
    PkiLayout,
    Purpose,
    read_certificate,
    utcnow,
)

app = typer.Typer(help="An office's operators and their IC cards.", no_args_is_help=True)
console = Console(width=200)
TABLES = operator_tables(MetaData())
CARDS = webauthn_tables(MetaData())
T = TypeVar("T")
NodeOpt = Annotated[
    str, typer.Option("--node", envvar=NODE_ENV, help="The office's node principal URI.")
]
PkiOpt = Annotated[Path, typer.Option("--pki-root", envvar=PKI_ENV)]
CertOpt = Annotated[
    Path | None, typer.Option("--cert", help="Register this card certificate instead of issuing")
]
PASSWORD_ENV = "JUKINET_OPERATOR_PASSWORD"  # noqa: S105 - the variable's name, not a password


def password_of(*, confirm: bool) -> str:
    """The operator's password from JUKINET_OPERATOR_PASSWORD, or asked for without
    echo — never a command-line argument (it would sit in the shell's history and in
    the process list)."""
    given = os.environ.get(PASSWORD_ENV)
    if given is not None:
        return given
    entered: str = typer.prompt("Password", hide_input=True, confirmation_prompt=confirm)
    return entered


def _card(node: Principal, slug: str, pki_root: Path, cert: Path | None, days: int) -> Path:
    """Issue the operator's card (key and certificate) or take a given certificate."""
    layout = PkiLayout(pki_root)
    principal = card_principal(node, slug)
    if cert is not None:
        return cert
    ca = CertificateAuthority.load(layout.ca_dir)
    layout.issue(ca, principal, validity=dt.timedelta(days=days))
    return layout.node_dir(principal) / f"{Purpose.SIGN.value}.crt"


CLI = Actor("cli", Role.SYSTEM)  # someone with the database and the node's key


def _logged(
    db: str,
    office: Principal,
    pki_root: Path,
    action: str,
    slug: str,
    work: Callable[[AsyncSession], Awaitable[T]],
) -> T:
    """Run ``work`` and chain it into the office's operation log in the same transaction,
    signed with the office node's key: operator management from the command line is an
    operator action too."""
    layout = PkiLayout(pki_root)
    key, _ = Credentials.load(layout.node_dir(office), layout.ca_cert, office).require_signing()

    async def run(session: AsyncSession) -> T:
        result = await work(session)
        outcome = "failed:not_found" if result is False else "ok"
        await append_operation(session, TABLES, Operation.of(CLI, action, slug, outcome), key)
        return result

    return with_session(db, run)


@app.command()
def create(
    slug: str,
    role: Annotated[Role, typer.Option()],
    node: NodeOpt,
    db: DbOpt,
    pki_root: PkiOpt = Path("var/pki"),
    cert: CertOpt = None,
    card_days: Annotated[int, typer.Option(min=1, max=1825)] = 365,
) -> None:
    """Create an operator of the office, with a new IC card (or a given card certificate).
    The password comes from JUKINET_OPERATOR_PASSWORD or is asked for (at least 12
    characters)."""
    office = Principal.parse(node)
    taken = with_session(db, lambda s: list_operators(s, TABLES))
    if any(row["slug"] == slug for row in taken):  # before any card file is touched
        console.print(
            f"[red]operator {slug} already exists[/]; its card is unchanged "
            f"(`jukinet operators card {slug}` issues a new one)"
        )
        raise typer.Exit(1)
    password = password_of(confirm=True)
    if len(password) < MIN_PASSWORD:
        console.print(f"[red]the password needs at least {MIN_PASSWORD} characters")
        raise typer.Exit(1)
    path = _card(office, slug, pki_root, cert, card_days)
    card = read_certificate(path)
    _logged(db, office, pki_root, "operators.create", slug, lambda s: register_operator(
        s, TABLES, slug=slug, role=role, password=password, card=card
    ))  # fmt: skip
    console.print(f"operator {card_principal(office, slug)} created ({role.value}); card {path}")


@app.command()
def enrol(slug: str, node: NodeOpt, db: DbOpt, pki_root: PkiOpt = Path("var/pki")) -> None:
    """Issue a one-time code (valid 24 hours) with which the operator registers their IC
    card for the counter's browser login, at /ui/enrol."""
    office = Principal.parse(node)

    async def work(session: AsyncSession) -> str | bool:
        code = await issue_enrolment(session, TABLES, CARDS, slug, utcnow())
        return False if code is None else code

    code = _logged(db, office, pki_root, "operators.enrolment", slug, work)
    if code is False:
        console.print(f"[red]no operator {slug}")
        raise typer.Exit(1)
    console.print(f"enrolment code for {slug} (valid 24 hours; give it to them alone):")
    typer.echo(code)


@app.command("issue-card")
def issue_card(
    slug: str,
    node: NodeOpt,
    pki_root: PkiOpt = Path("var/pki"),
    card_days: Annotated[int, typer.Option(min=1, max=1825)] = 365,
) -> None:
    """Issue an operator's IC card (key and certificate) with the CA, without touching
    any database: where the CA is kept apart from the nodes (the deployment's
    pki-renewer), register it afterwards with `operators create --cert` (or `card
    --cert`) on the node."""
    office = Principal.parse(node)
    path = _card(office, slug, pki_root, None, card_days)
    public = PkiLayout(pki_root).public_cert(card_principal(office, slug), Purpose.SIGN)
    console.print(f"card issued: {path.parent} (hand it to the operator)")
    console.print(f"register it on the node with --cert {public.relative_to(pki_root)}")


@app.command()
def card(
    slug: str,
    node: NodeOpt,
    db: DbOpt,
    pki_root: PkiOpt = Path("var/pki"),
    cert: CertOpt = None,
    card_days: Annotated[int, typer.Option(min=1, max=1825)] = 365,
) -> None:
    """Issue and register a new IC card for an operator (the old card stops working)."""
    office = Principal.parse(node)
    path = _card(office, slug, pki_root, cert, card_days)
    certificate = read_certificate(path)
    work = lambda s: replace_card(s, TABLES, slug, certificate)  # noqa: E731
    if not _logged(db, office, pki_root, "operators.card", slug, work):
        console.print(f"[red]no operator {slug}")
        raise typer.Exit(1)
    console.print(f"new card for {slug}: {path}")


@app.command("list")
def list_(db: DbOpt) -> None:
    """The office's operators, their roles and state."""
    rows = with_session(db, lambda s: list_operators(s, TABLES))
    table = Table(title="operators")
    for column in ("operator", "role", "state", "card"):
        table.add_column(column)
    for r in rows:
        state = "disabled" if r["disabled"] else "locked" if r["locked_until"] else "active"
        table.add_row(r["slug"], r["role"], state, r["card_fingerprint"][:16])
    console.print(table)


@app.command()
def unlock(slug: str, node: NodeOpt, db: DbOpt, pki_root: PkiOpt = Path("var/pki")) -> None:
    """Clear an operator's failed attempts and lockout."""
    office = Principal.parse(node)
    if not _logged(db, office, pki_root, "operators.unlock", slug,
                   lambda s: set_state(s, TABLES, slug)):  # fmt: skip
        console.print(f"[red]no operator {slug}")
        raise typer.Exit(1)
    console.print(f"{slug} unlocked")


@app.command()
def login(
    slug: str,
    node: NodeOpt,
    url: Annotated[str, typer.Option(help="The office's operator API, e.g. http://127.0.0.1:8001")],
    card_dir: Annotated[Path, typer.Option(exists=True, file_okay=False)],
) -> None:
    """Log in with password and IC card; print the session token. The password comes
    from JUKINET_OPERATOR_PASSWORD or is asked for."""
    password = password_of(confirm=False)

    async def run() -> httpx.Response:
        async with httpx.AsyncClient(base_url=url, timeout=30.0) as client:
            return await card_login(client, Principal.parse(node), slug, password, IcCard(card_dir))

    response = asyncio.run(run())
    if response.status_code != 200:
        console.print(f"[red]login refused: {response.json().get('title')}")
        raise typer.Exit(1)
    typer.echo(response.json()["token"])
