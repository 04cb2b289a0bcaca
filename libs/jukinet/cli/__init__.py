"""The `jukinet` command line.

Each subcommand's module is imported only when that subcommand runs: the modules pull
in the database, broker and web libraries, and `jukinet --help` (or `jukinet pki …`)
must not pay for all of them. The short help of each entry is therefore written here;
tests/libs/cli checks it matches the module's own."""

from __future__ import annotations

import importlib
from typing import Any

import typer

# typer carries its own copy of click: its types are the ones its classes use
from typer._click import Command, Context, HelpFormatter
from typer.core import TyperGroup

from jukinet.cli._errors import run_reporting_errors

__all__ = ["COMMANDS", "app", "main"]

# name: (module, attribute — a Typer app or a command function —, the short help)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "pki": ("jukinet.cli.pki", "app", "Federation CA and credentials."),
    "db": ("jukinet.cli.db", "app", "Service database migrations."),
    "broker": ("jukinet.cli.broker", "app", "Broker configuration and streams."),
    "permissions": (
        "jukinet.cli.lookups",
        "permissions",
        "The permission table of a serving node.",
    ),
    "audit": (
        "jukinet.cli.lookups",
        "audit",
        "Verify the operation and provision logs; purge old provisions.",
    ),
    "clients": ("jukinet.cli.lookups", "clients", "Lookup clients: suspension and reinstatement."),
    "operators": ("jukinet.cli.operators", "app", "An office's operators and their IC cards."),
    "outbox": (
        "jukinet.cli.outbox",
        "app",
        "Outbox items set aside as undeliverable: list, retry, resolve.",
    ),
    "lookup": ("jukinet.cli.lookup", "app", "Look residents up as a ministry system would."),
    "deploy": ("jukinet.cli.deploy", "app", "The compose deployment and its renewal."),
    "up": (
        "jukinet.cli.federation",
        "up",
        "Start the broker and every node of the demo federation; Ctrl-C stops them all.",
    ),
    "status": (
        "jukinet.cli.federation",
        "status",
        "Each node's health, record counts, outbox backlog and dead letters.",
    ),
    "demo": (
        "jukinet.cli.federation",
        "demo",
        "Register synthetic residents, move one, record a death; show them arrive upstream.",
    ),
    "reconcile": (
        "jukinet.cli.federation",
        "reconcile",
        "Compare every tier with the municipalities (counts and codes only); optionally repair.",
    ),
    "import": (
        "jukinet.cli.federation",
        "import_",
        "Import a municipality's register from CSV: every row valid, or nothing imported.",
    ),
    "bench": (
        "jukinet.cli.bench",
        "bench",
        "Measure baselines, change propagation, bulk migration and lookups; print a table "
        "and write the same figures as JSON. Targets are reported, never asserted.",
    ),
}


def load_command(name: str) -> Command:
    """The click command of one entry, importing its module now."""
    module, attribute, _ = COMMANDS[name]
    target: Any = getattr(importlib.import_module(module), attribute)
    if isinstance(target, typer.Typer):
        return typer.main.get_group(target)
    single = typer.Typer()
    single.command(name)(target)
    return typer.main.get_command(single)


class LazyGroup(TyperGroup):
    """Lists the entries of :data:`COMMANDS` and imports one only when it is invoked."""

    def list_commands(self, ctx: Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        if cmd_name not in COMMANDS:
            return None
        command = load_command(cmd_name)
        command.name = cmd_name
        return command

    def format_commands(self, ctx: Context, formatter: HelpFormatter) -> None:
        rows = [(name, short) for name, (_, _, short) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


app = typer.Typer(
    name="jukinet",
    cls=LazyGroup,
    # plain help at the top: the rich one loads every command to list them
    rich_markup_mode=None,
    help="jukinet: the Basic Resident Registry Network, as an open federation.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """jukinet: the Basic Resident Registry Network, as an open federation."""


def main() -> None:
    run_reporting_errors(app)
