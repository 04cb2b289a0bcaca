"""`jukinet deploy`: the operations deployment, generated from its federation description
(``deploy/federation.toml``), and the two small daemons it runs: the certificate renewer
and the broker reloader."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import signal
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from jukinet.contracts.principals import Principal
from jukinet.deploy import (
    DeployDir,
    Deployment,
    NoCertificateAuthority,
    Town,
    ca_expiry,
    dump_description,
    render_deployment,
    renew_deployment,
    service_name,
)
from jukinet.pki import utcnow

app = typer.Typer(help="The compose deployment and its renewal.", no_args_is_help=True)
console = Console(width=120)
log = logging.getLogger("jukinet.deploy")
DirOpt = Annotated[
    Path, typer.Option("--dir", help="The deployment directory (federation.toml inside).")
]
HEARTBEAT = Path(os.environ.get("JUKINET_HEARTBEAT", "/tmp/jukinet-heartbeat"))  # noqa: S108 - the container's own tmpfs
DEFAULT_DIR = Path("deploy")
CA_WARNING = dt.timedelta(days=30)


@app.command()
def render(where: DirOpt = DEFAULT_DIR) -> None:
    """Write compose.yaml and the broker configuration from federation.toml, and create
    what is missing: the CA (for a new deployment), credentials, secret files, permission
    tables. Existing keys, secrets and tables are kept."""
    _render(DeployDir(where))


def _render(where: DeployDir, deployment: Deployment | None = None) -> None:
    try:
        done = render_deployment(where, deployment)
    except NoCertificateAuthority as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from None
    for uri in done.issued:
        console.print(f"issued credentials: {uri}")
    if done.secrets:
        console.print(f"created {len(done.secrets)} secret files in {where.secrets}")
    for path in done.files:
        console.print(f"wrote {path}")
    if not (done.issued or done.secrets or done.files):
        console.print("nothing to change: the deployment matches federation.toml")


@app.command("add-municipality")
def add_municipality(
    code: Annotated[str, typer.Argument(help="Local government code, e.g. 131059.")],
    name: Annotated[str, typer.Option(help="The name certificates print, e.g. 文京区.")],
    mayor: Annotated[str, typer.Option(help="The mayor's title and name, as signed.")],
    where: DirOpt = DEFAULT_DIR,
) -> None:
    """Add a municipality to federation.toml and render: its credentials, secrets, node
    and database in compose.yaml, its broker permissions. No other node's port moves.
    Then start it and reload the broker (the reloader does it by itself)."""
    target = DeployDir(where)
    deployment = target.load().with_town(Town(code=code, name=name, mayor=mayor))
    _render(target, deployment)  # first: without the CA key nothing changes
    target.description.write_text(dump_description(deployment), encoding="utf-8")
    console.print(f"added municipality {code} ({name}) to {target.description}")
    node = service_name(Principal.municipality(code))
    console.print(
        f"start it: docker compose -f {target.compose} up -d {node}  "
        f"(its API: http://127.0.0.1:{deployment.http_ports()[Principal.municipality(code)]})"
    )


@app.command()
def renewer(
    where: DirOpt = DEFAULT_DIR,
    every: Annotated[float, typer.Option(min=1, help="Seconds between passes.")] = 3600.0,
    once: Annotated[bool, typer.Option(help="One pass, then exit.")] = False,
) -> None:
    """Renew what expires within the description's renew_within_days, every --every
    seconds, and rewrite the broker configuration when anything was renewed. Needs the
    CA key (pki/ca/); runs until stopped (SIGTERM)."""
    _stop_on_sigterm()
    target = DeployDir(where)
    while True:
        try:
            renewed = renew_deployment(target)
        except NoCertificateAuthority as exc:  # an offline CA: unhealthy until it is here
            console.print(f"[red]certificates are due:[/] {exc}")
            if once:
                raise typer.Exit(1) from None
            time.sleep(every)
            continue
        for what in renewed:
            console.print(f"renewed {what}")
        ca_ends = ca_expiry(target)
        if ca_ends - utcnow() < CA_WARNING:
            console.print(f"[red]the federation CA expires {ca_ends:%Y-%m-%d}[/]: plan a new "
                          "CA and renew every credential with it before then")  # fmt: skip
        _beat()
        if once:
            return
        time.sleep(every)


@app.command()
def reloader(
    pid: Annotated[int, typer.Option(help="The broker's process id (1 in its namespace).")],
    watch: Annotated[list[Path], typer.Option(help="A file whose change means reload.")],
    every: Annotated[float, typer.Option(min=0.1, help="Seconds between checks.")] = 30.0,
    once: Annotated[bool, typer.Option(help="One check, then exit.")] = False,
) -> None:
    """Send the broker SIGHUP when one of the watched files changes (a reload keeps every
    connection and makes the broker read its configuration and certificate again)."""
    _stop_on_sigterm()
    seen = _digest(watch)
    while True:
        _beat()
        if once:
            return
        time.sleep(every)
        now = _digest(watch)
        if now != seen and all(p.exists() for p in watch):
            try:
                os.kill(pid, signal.SIGHUP)
            except OSError as exc:  # not reloaded: tried again on the next round
                console.print(f"[red]could not signal the broker (pid {pid}): {exc.strerror}")
                continue
            console.print(f"reloaded the broker (pid {pid}): {', '.join(map(str, watch))}")
            seen = now


@app.command()
def heartbeat(
    max_age: Annotated[float, typer.Option(help="Seconds; older is unhealthy.")] = 7200.0,
) -> None:
    """Exit 0 when this container's renewer or reloader completed a pass within --max-age
    seconds (the compose healthcheck)."""
    try:
        age = time.time() - HEARTBEAT.stat().st_mtime
    except FileNotFoundError:
        raise typer.Exit(1) from None
    raise typer.Exit(0 if age <= max_age else 1)


def _digest(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for path in paths:
        h.update(path.read_bytes() if path.exists() else b"\0missing")
    return h.hexdigest()


def _beat() -> None:
    HEARTBEAT.touch()


def _stop_on_sigterm() -> None:
    def stop(*_: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
