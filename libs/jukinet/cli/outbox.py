"""`jukinet outbox list|retry|resolve`: a node's undeliverable outbox items.

Speaks to the node's operations API with the node token (as `jukinet status` does);
every retry and resolve is written to the node's operation log and its own log.
"""

from __future__ import annotations

import asyncio
import os
from typing import Annotated, Any

import httpx
import typer
from rich.table import Table

from jukinet.cli.federation import DEFAULT_HOME, HomeOpt, _load, console

__all__ = ["app"]

app = typer.Typer(help="Outbox items set aside as undeliverable: list, retry, resolve.")
NodeOpt = Annotated[str, typer.Option("--node", help="The node's principal URI.")]
UrlOpt = Annotated[
    str | None, typer.Option("--url", help="The node's API URL (default: from --home).")
]
IdsArg = Annotated[list[int] | None, typer.Argument(help="Outbox item ids (see `list`).")]
RecipientOpt = Annotated[
    str | None, typer.Option("--recipient", help="Every set-aside item for this principal URI.")
]


def _target(home: Any, node: str, url: str | None) -> tuple[str, str]:
    """The node's URL and token: given (``--url``, ``JUKINET_API_TOKEN``), or those of
    the local federation under ``--home``."""
    token = os.environ.get("JUKINET_API_TOKEN")
    if url is not None and token:
        return url, token
    nodes, home_token = _load(home)
    token = token or home_token
    if url is None:
        if node not in nodes:
            console.print(f"[red]Unknown node {node}.")
            raise typer.Exit(1)
        url = nodes[node]
    return url, token


async def _call(url: str, token: str, method: str, path: str, body: Any = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(timeout=10.0, headers=headers) as client:
        r = await client.request(method, url + path, json=body)
    if r.status_code >= 400:
        console.print(f"[red]{r.status_code}: {r.json().get('detail', '')}")
        raise typer.Exit(1)
    return r.json()


@app.command("list")
def list_(node: NodeOpt, home: HomeOpt = DEFAULT_HOME, url: UrlOpt = None) -> None:
    """The node's undeliverable items: id, recipient, kind, reason, since when."""
    base, token = _target(home, node, url)
    rows = asyncio.run(_call(base, token, "GET", "/outbox/undeliverable"))
    table = Table(title=f"undeliverable outbox items of {node}")
    for column in ("id", "recipient", "kind", "reason", "set aside"):
        table.add_column(column, no_wrap=True)
    for r in rows:
        since = r["set_aside_at"] or ""
        table.add_row(str(r["id"]), r["recipient"], r["message_type"], r["reason"], since)
    console.print(table)


def _change(action: str, node: str, home: Any, url: str | None, ids: list[int] | None,
            recipient: str | None) -> None:  # fmt: skip
    if not ids and recipient is None:
        console.print("[red]Name item ids or --recipient.")
        raise typer.Exit(2)
    base, token = _target(home, node, url)
    body = {"ids": ids or [], "recipient": recipient}
    result = asyncio.run(_call(base, token, "POST", f"/outbox/{action}", body))
    console.print(f"{action}: {result['count']} item(s)")


@app.command()
def retry(
    node: NodeOpt,
    ids: IdsArg = None,
    recipient: RecipientOpt = None,
    home: HomeOpt = DEFAULT_HOME,
    url: UrlOpt = None,
) -> None:
    """Put set-aside items back in line: they are sealed again, in their order."""
    _change("retry", node, home, url, ids, recipient)


@app.command()
def resolve(
    node: NodeOpt,
    ids: IdsArg = None,
    recipient: RecipientOpt = None,
    home: HomeOpt = DEFAULT_HOME,
    url: UrlOpt = None,
) -> None:
    """Close set-aside items for good (handled another way): they never travel."""
    _change("resolve", node, home, url, ids, recipient)
