"""`jukinet lookup`: an integrator's first lookups, from the command line.

    jukinet lookup by-code 12345678903 --affair pension-existence-check \\
        --as var/pki/nodes/ministry.jpa-pension

The answer is printed as JSON; a refusal or an invalid request is one line saying why
(exit status 2), an unreachable server one line saying where (exit status 3).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any, Literal

import httpx
import typer
from rich.console import Console

from jukinet.client import LookupClient, LookupError, LookupInvalid, LookupRefused

app = typer.Typer(help="Look residents up as a ministry system would.", no_args_is_help=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

AffairOpt = Annotated[str, typer.Option("--affair", help="The affair the lookup is for.")]
AsOpt = Annotated[
    Path,
    typer.Option("--as", help="The caller's credential directory (tls.crt and tls.key)."),
]
ServerOpt = Annotated[
    str, typer.Option("--server", help="The lookup server (agency 9100, prefectures 9101-).")
]
CaOpt = Annotated[Path, typer.Option("--ca", help="The federation CA certificate.")]
SERVER, CA = "https://localhost:9100", Path("var/pki/ca.crt")


@app.command("by-code")
def by_code(
    code: Annotated[str, typer.Argument(help="The resident code (11 digits).")],
    affair: AffairOpt,
    as_: AsOpt,
    server: ServerOpt = SERVER,
    ca: CaOpt = CA,
) -> None:
    """One resident by resident code."""
    _run(server, as_, ca, lambda c: asdict(c.by_code(affair, code)))


@app.command("by-facts")
def by_facts(
    affair: AffairOpt,
    as_: AsOpt,
    name: Annotated[str, typer.Option(help="Family and given name, as registered.")],
    birth_date: Annotated[dt.datetime, typer.Option(formats=["%Y-%m-%d"], help="YYYY-MM-DD")],
    sex: Annotated[str, typer.Option(help="male or female")],
    address: Annotated[str | None, typer.Option(help="The registered address.")] = None,
    server: ServerOpt = SERVER,
    ca: CaOpt = CA,
) -> None:
    """One resident by name, birth date and sex (and address): unique, none or ambiguous."""
    if sex not in ("male", "female"):
        err.print("sex is male or female")
        raise typer.Exit(2)
    chosen: Literal["male", "female"] = "male" if sex == "male" else "female"
    born = birth_date.date()

    def call(c: LookupClient) -> Any:
        return asdict(c.by_facts(affair, name=name, birth_date=born, sex=chosen, address=address))

    _run(server, as_, ca, call)


@app.command()
def batch(
    codes: Annotated[Path, typer.Argument(help="A file with one resident code per line.")],
    affair: AffairOpt,
    as_: AsOpt,
    server: ServerOpt = SERVER,
    ca: CaOpt = CA,
) -> None:
    """Up to 10,000 residents by resident code."""
    wanted = _codes(codes)
    _run(server, as_, ca, lambda c: asdict(c.batch(affair, wanted)))


@app.command()
def watch(
    affair: AffairOpt,
    as_: AsOpt,
    add: Annotated[Path | None, typer.Option(help="A file of codes to watch, one a line.")] = None,
    remove: Annotated[
        Path | None, typer.Option(help="A file of codes to stop watching, one a line.")
    ] = None,
    server: ServerOpt = SERVER,
    ca: CaOpt = CA,
) -> None:
    """Watch residents for the change feed (up to 100,000 codes each way a call)."""
    adding, removing = _codes(add), _codes(remove)

    def call(c: LookupClient) -> Any:
        added, removed = c.watch(affair, add=adding, remove=removing)
        return {"affair": affair, "added": added, "removed": removed}

    _run(server, as_, ca, call)


@app.command()
def changes(
    affair: AffairOpt,
    as_: AsOpt,
    cursor: Annotated[
        str | None, typer.Option(help="The last cursor received (omitted: from the start).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many.")] = 1000,
    server: ServerOpt = SERVER,
    ca: CaOpt = CA,
) -> None:
    """The next changes of the watched residents, with the cursor to ask from next."""
    _run(server, as_, ca, lambda c: asdict(c.changes(affair, cursor, limit)))


def _codes(path: Path | None) -> list[str]:
    if path is None:
        return []
    try:
        return [line.strip() for line in path.read_text().splitlines() if line.strip()]
    except OSError as exc:
        err.print(f"cannot read {path}: {exc.strerror}")
        raise typer.Exit(2) from None


def _run(server: str, who: Path, ca: Path, call: Callable[[LookupClient], Any]) -> None:
    for path in (who / "tls.crt", who / "tls.key", ca):
        if not path.is_file():
            err.print(f"{path} does not exist: --as names a credential directory, --ca the CA")
            raise typer.Exit(2)
    try:
        with LookupClient(server, cert=who / "tls.crt", key=who / "tls.key", ca=ca) as client:
            answer = call(client)
    except LookupRefused as exc:
        err.print(f"refused ({exc.status}): {exc.reason} — {exc.detail or exc.title}")
        raise typer.Exit(2) from None
    except LookupInvalid as exc:
        for e in exc.errors:
            err.print(f"invalid: {'.'.join(e.get('loc', []))}: {e.get('message')}")
        raise typer.Exit(2) from None
    except LookupError as exc:
        err.print(f"the lookup server answered {exc}")
        raise typer.Exit(2) from None
    except (httpx.TransportError, OSError) as exc:
        err.print(f"cannot reach {server}: {type(exc).__name__}")
        raise typer.Exit(3) from None
    typer.echo(json.dumps(answer, ensure_ascii=False, indent=2, default=str))
