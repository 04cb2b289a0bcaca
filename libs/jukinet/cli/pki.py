"""`jukinet pki`: the federation CA and every principal's credentials."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from jukinet.contracts.federation import BROKER_NAMES, DEMO
from jukinet.contracts.principals import InvalidPrincipal, Principal, PrincipalKind
from jukinet.pki import (
    BROKER,
    HTTPS_CERT,
    LOCAL_HOSTS,
    CertificateAuthority,
    PkiLayout,
    principal_of,
    read_certificate,
    renew_expiring,
    revoke,
    utcnow,
)

app = typer.Typer(help="Federation CA and credentials.", no_args_is_help=True)
console = Console(width=120)

RootOpt = Annotated[Path, typer.Option("--root", envvar="JUKINET_PKI", help="PKI directory.")]
DaysOpt = Annotated[int, typer.Option("--days", min=1, max=90, help="Leaf validity in days.")]
HostOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--host",
        help="A host name or address the lookup servers are reached at (repeat it; default "
        "localhost and 127.0.0.1); their HTTPS certificates name these, so standard "
        "clients verify them.",
    ),
]
DEFAULT_ROOT = Path("var/pki")


@app.command()
def init(
    root: RootOpt = DEFAULT_ROOT,
    days: DaysOpt = 7,
    ca_days: Annotated[int, typer.Option(min=1, max=365)] = 90,
    force: Annotated[bool, typer.Option(help="Replace an existing CA.")] = False,
    host: HostOpt = None,
) -> None:
    """Create the CA and the credentials of the demo federation's principals."""
    layout = PkiLayout(root)
    if layout.ca_cert.exists() and not force:
        console.print(f"[yellow]A CA already exists in {root}; use --force to replace it.")
        raise typer.Exit(1)
    ca = CertificateAuthority.create(layout.ca_dir, validity=dt.timedelta(days=ca_days))
    for principal in DEMO.principals:
        layout.issue(ca, principal, validity=dt.timedelta(days=days), hosts=host or LOCAL_HOSTS)
    layout.issue_broker(ca, dns_names=BROKER_NAMES, validity=dt.timedelta(days=days))
    _show(layout)


@app.command()
def issue(
    uri: Annotated[str, typer.Argument(help="e.g. spiffe://jukinet/municipality/142034")],
    root: RootOpt = DEFAULT_ROOT,
    days: DaysOpt = 7,
    host: HostOpt = None,
) -> None:
    """Issue (or reissue) the credentials of one principal."""
    try:
        principal = Principal.parse(uri)
    except InvalidPrincipal as exc:
        console.print(f"[red]{exc}")
        raise typer.Exit(2) from None
    layout = PkiLayout(root)
    ca = CertificateAuthority.load(layout.ca_dir)
    layout.issue(ca, principal, validity=dt.timedelta(days=days), hosts=host or LOCAL_HOSTS)
    console.print(f"issued {principal.uri} in {layout.node_dir(principal)}")


@app.command()
def rotate(
    uri: Annotated[str, typer.Argument(help="e.g. spiffe://jukinet/municipality/142034")],
    root: RootOpt = DEFAULT_ROOT,
    days: DaysOpt = 7,
    host: HostOpt = None,
) -> None:
    """Reissue a principal's credentials and revoke the old ones from now on.

    The running node rolls over to the new files by itself; then rewrite the broker
    configuration (`jukinet broker config`) and reload the broker (SIGHUP)."""
    principal = Principal.parse(uri)
    layout = PkiLayout(root)
    old = [read_certificate(p) for p in sorted(layout.node_dir(principal).glob("*.crt"))]
    ca = CertificateAuthority.load(layout.ca_dir)
    layout.issue(ca, principal, validity=dt.timedelta(days=days), hosts=host or LOCAL_HOSTS)
    revoke(layout.revocations, old, utcnow())
    console.print(f"rotated {principal.uri}; {len(old)} old certificates revoked")


@app.command()
def renew(
    root: RootOpt = DEFAULT_ROOT,
    days: DaysOpt = 7,
    within_days: Annotated[
        float, typer.Option(min=0, help="Renew what expires within this many days.")
    ] = 2.0,
    host: HostOpt = None,
) -> None:
    """Reissue every node's, client's and the broker's credentials that expire within
    --within-days (run it daily, well before expiry). The old certificates are not
    revoked: they stay valid until they expire, and running nodes roll over to the new
    files by themselves; the broker needs a reload (SIGHUP) for its own. Operators'
    IC cards are left alone: a new card is registered with `jukinet operators card`."""
    layout = PkiLayout(root)
    ca = CertificateAuthority.load(layout.ca_dir)
    renewed = renew_expiring(
        layout,
        ca,
        horizon=utcnow() + dt.timedelta(days=within_days),
        validity=dt.timedelta(days=days),
        hosts=lambda _: host or LOCAL_HOSTS,
    )
    for what in renewed:
        console.print(f"renewed {what}" + (" (reload it: SIGHUP)" if what == BROKER else ""))
    console.print(f"{len(renewed)} renewed; nothing else expires within {within_days:g} days")


@app.command()
def broker(root: RootOpt = DEFAULT_ROOT, days: DaysOpt = 7) -> None:
    """Issue (or renew) the broker's server certificate."""
    layout = PkiLayout(root)
    ca = CertificateAuthority.load(layout.ca_dir)
    layout.issue_broker(ca, dns_names=BROKER_NAMES, validity=dt.timedelta(days=days))
    console.print(f"issued the broker certificate in {layout.broker_dir}")


@app.command("list")
def list_(root: RootOpt = DEFAULT_ROOT) -> None:
    """Show every principal's certificates and their expiry."""
    _show(PkiLayout(root))


def _show(layout: PkiLayout) -> None:
    table = Table(title=f"jukinet PKI in {layout.root}")
    table.add_column("principal", no_wrap=True, min_width=44)
    for column in ("kind", "purposes", "expires (UTC)"):
        table.add_column(column, no_wrap=True)
    for node in sorted((layout.root / "nodes").glob("*")):
        certs = sorted(node.glob("*.crt"))
        if not certs or node == layout.broker_dir:
            continue
        # the principal from a credential that names only it (https.crt names hosts too)
        first = read_certificate(next((c for c in certs if c.name != HTTPS_CERT), certs[0]))
        principal = principal_of(first)
        purposes = ", ".join(c.stem for c in certs)
        expiry = min(read_certificate(c).not_valid_after_utc for c in certs)
        table.add_row(principal.uri, principal.kind.value, purposes, f"{expiry:%Y-%m-%d %H:%M}")
    broker = layout.broker_dir / "tls.crt"
    if broker.exists():
        expiry = read_certificate(broker).not_valid_after_utc
        table.add_row("(broker server certificate)", "broker", "tls", f"{expiry:%Y-%m-%d %H:%M}")
    console.print(table)


__all__ = ["PrincipalKind", "app"]
