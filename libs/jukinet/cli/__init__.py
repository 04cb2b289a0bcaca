"""The `jukinet` command line."""

from __future__ import annotations

import typer

from jukinet.cli import bench, broker, db, federation, lookup, lookups, operators, outbox, pki
from jukinet.cli._errors import run_reporting_errors

__all__ = ["app", "main"]

app = typer.Typer(
    name="jukinet",
    help="jukinet: the Basic Resident Registry Network, as an open federation.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(pki.app, name="pki")
app.add_typer(db.app, name="db")
app.add_typer(broker.app, name="broker")
app.add_typer(lookups.permissions, name="permissions")
app.add_typer(lookups.audit, name="audit")
app.add_typer(lookups.clients, name="clients")
app.add_typer(operators.app, name="operators")
app.add_typer(outbox.app, name="outbox")
app.add_typer(lookup.app, name="lookup")
app.command()(federation.up)
app.command()(federation.status)
app.command()(federation.demo)
app.command()(federation.reconcile)
app.command("import")(federation.import_)
app.command()(bench.bench)


def main() -> None:
    run_reporting_errors(app)
