"""`jukinet broker`: the nats-server configuration and the streams, for operations."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from jukinet.broker import BrokerConfig, DefinitionsDiffer, ensure_streams, pinned_certs, render
from jukinet.bus import connect, tls_context
from jukinet.contracts.federation import DEMO
from jukinet.contracts.principals import Principal, PrincipalKind
from jukinet.pki import PkiLayout

app = typer.Typer(help="Broker configuration and streams.", no_args_is_help=True)
console = Console()
PkiOpt = Annotated[Path, typer.Option("--pki-root", envvar="JUKINET_PKI", help="PKI directory.")]


@app.command()
def config(
    out: Annotated[Path, typer.Option(help="Where to write nats.conf.")],
    cert_root: Annotated[
        Path, typer.Option(help="The PKI directory as the broker will see it (e.g. /pki).")
    ] = Path("var/pki"),
    host: str = "127.0.0.1",
    port: int = 4222,
    monitor_port: int = 8222,
    store_dir: Path = Path("/data/jetstream"),
    server_name: str = "jukinet-1",
    cluster_port: Annotated[int | None, typer.Option(help="Route port (clustered).")] = None,
    route: Annotated[
        list[str] | None, typer.Option(help="nats-route://host:port of a peer.")
    ] = None,
    pki_root: PkiOpt = Path("var/pki"),
) -> None:
    """Write the broker configuration: TLS 1.3, verify_and_map, per-node permissions, the
    pinned list of current node certificates (read from --pki-root); with --cluster-port
    and --route, one server of a cluster with mutual-TLS routes. After a rotation, write
    it again and send the broker SIGHUP: the old certificate is disconnected."""
    settings = BrokerConfig(
        port=port,
        monitor_port=monitor_port,
        store_dir=store_dir,
        host=host,
        server_name=server_name,
        cluster_port=cluster_port,
        routes=route or [],
        pinned_certs=pinned_certs(PkiLayout(pki_root), DEMO),
    )
    out.write_text(render(settings, PkiLayout(cert_root), DEMO))
    console.print(f"wrote {out}")


@app.command("init-streams")
def init_streams(
    server: Annotated[str, typer.Option(help="e.g. tls://nats:4222")],
    pki_root: PkiOpt = Path("var/pki"),
    replicas: Annotated[int, typer.Option(min=1, max=5)] = 1,
    ops: str = "admin",
) -> None:
    """Create every node's missing stream and consumer, as the operations identity, and
    confirm the existing ones. A stream's definition is fixed at creation: one that
    exists with another definition is left unchanged and named, and the command fails."""
    principal = Principal(PrincipalKind.OPS, ops)
    layout = PkiLayout(pki_root)
    node = layout.node_dir(principal)
    tls = tls_context(node / "tls.crt", node / "tls.key", layout.ca_cert)

    async def run() -> list[str]:
        nc = await connect(principal, [server], tls, reconnect=False)
        try:
            return await ensure_streams(nc, DEMO, replicas=replicas)
        finally:
            await nc.close()

    try:
        ready, differ = asyncio.run(run()), []
    except DefinitionsDiffer as exc:
        ready, differ = exc.ready, exc.differ
    for name in ready:
        console.print(f"stream {name}: ready")
    for name in differ:
        console.print(f"stream {name}: exists with another definition; left unchanged")
    if differ:
        raise typer.Exit(1)
