"""`jukinet up`, `jukinet status` and `jukinet demo`: a local federation for development."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, BinaryIO

import httpx
import typer
from rich.console import Console
from rich.table import Table

from jukinet.contracts.federation import DEMO
from jukinet.contracts.principals import AGENCY, Principal, PrincipalKind
from jukinet.devtools.localfed import LocalFederation

console = Console(width=120)
HomeOpt = Annotated[Path, typer.Option("--home", envvar="JUKINET_HOME", help="State directory.")]
DEFAULT_HOME = Path("var")
STATE_FILE = "federation.json"
LOCK_FILE = "up.lock"


def _ports(base: int) -> dict[Principal, int]:
    return {node: base + i for i, node in enumerate(DEMO.nodes)}


def up(
    home: HomeOpt = DEFAULT_HOME,
    base_port: Annotated[int, typer.Option(help="First HTTP port; one per node.")] = 8100,
    broker_port: Annotated[int, typer.Option(help="nats-server client port.")] = 4322,
    cluster: Annotated[bool, typer.Option(help="Three brokers, streams replicated 3x.")] = False,
) -> None:
    """Start the broker and every node of the demo federation; Ctrl-C stops them all."""
    home = home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    with _only_one(home):
        _check_ports(_wanted_ports(base_port, broker_port))
        fed = LocalFederation(
            home,
            ports=_ports(base_port),
            broker_port=broker_port,
            monitor_port=broker_port + 4000,
            cluster=cluster,
        )
        asyncio.run(_run(fed))


@contextlib.contextmanager
def _only_one(home: Path) -> Iterator[None]:
    """Hold ``home``'s lock for as long as this federation runs (the kernel releases it
    if the process dies). A second ``up`` on the same home is refused before it touches
    the running one's state."""
    with (home / LOCK_FILE).open("a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "another process"
            console.print(
                f"[red]A federation is already running from {home} (pid {holder}).[/] "
                "Stop it with Ctrl-C in its terminal, or start a second one with its own "
                "--home, --base-port and --broker-port."
            )
            raise typer.Exit(1) from None
        lock.seek(0)
        lock.truncate()
        lock.write(str(os.getpid()))
        lock.flush()
        yield


def _wanted_ports(base: int, broker: int) -> dict[int, str]:
    """Every fixed port a federation listens on, and what listens there."""
    wanted = {broker: "the broker (NATS)", broker + 4000: "the broker's monitoring"}
    for node, port in _ports(base).items():
        wanted[port] = f"{node.slug}'s API"
        if node.kind in (PrincipalKind.AGENCY, PrincipalKind.PREFECTURE):
            wanted[port + 1000] = f"{node.slug}'s lookup server"
    return wanted


def _check_ports(wanted: dict[int, str]) -> None:
    for port, what in sorted(wanted.items()):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                console.print(
                    f"[red]Port {port}, wanted for {what}, is already in use.[/] Free it, or "
                    "move the federation with --base-port (nodes; lookup servers are 1000 "
                    "above) and --broker-port."
                )
                raise typer.Exit(1) from None


async def _run(fed: LocalFederation) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        console.print("[bold]Starting the jukinet federation…")
        await fed.start()
        _print_nodes(fed)
        await _counter_demo(fed)
        console.print(f"Operator token in {fed.root / 'api-token'}. Ctrl-C stops everything.")
        _save_state(fed)  # last: the state file says the federation is up and described
        await stop.wait()
    finally:
        console.print("Stopping…")
        fed.stop()
        (fed.root / STATE_FILE).unlink(missing_ok=True)


COUNTER_TOWN = Principal.municipality("142034")  # 平塚市


async def _counter_demo(fed: LocalFederation) -> None:
    """A demo clerk at one town's counter, with an enrolment code — for local use only."""
    from jukinet.devtools.democlerk import make_demo_clerk

    node = fed.nodes[COUNTER_TOWN]
    url = next(v for k, v in node.env.items() if k.endswith("_DATABASE_URL"))
    clerk = await make_demo_clerk(fed.root, fed.layout, COUNTER_TOWN, url)
    counter = node.url.replace("127.0.0.1", "localhost")
    console.print(
        f"[bold]Counter (DEMO, local use only)[/]: {counter}/ui/enrol — clerk "
        f"[bold]{clerk.slug}[/], password [bold]{clerk.password}[/], enrolment code "
        f"[bold]{clerk.enrolment_code}[/]; a virtual card from Chromium's DevTools "
        "(README: The counter)"
    )


def _save_state(fed: LocalFederation) -> None:
    state = {
        "brokers": fed.nats_urls,
        "nodes": {node.uri: proc.url for node, proc in fed.nodes.items()},
        "lookup_servers": {node.uri: proc.url for node, proc in fed.lookup_servers.items()},
    }
    (fed.root / STATE_FILE).write_text(json.dumps(state, indent=2))


def _print_nodes(fed: LocalFederation) -> None:
    table = Table(title="jukinet local federation")
    table.add_column("node", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    table.add_column("URL", no_wrap=True, min_width=len("https://127.0.0.1:65535"))
    table.add_column("log", no_wrap=True)
    for url in fed.nats_urls:
        table.add_row("nats-server", "broker", url, "log/")
    for node, proc in fed.nodes.items():
        table.add_row(node.slug, node.kind.value, proc.url, f"log/{node.slug}.log")
    for node, proc in fed.lookup_servers.items():
        table.add_row(node.slug, "lookup server", proc.url, f"log/{node.slug}.lookups.log")
    console.print(table)


def _load(home: Path) -> tuple[dict[str, str], str]:
    path = home / STATE_FILE
    if not path.exists():
        console.print("[red]No running federation found; start one with `jukinet up`.")
        raise typer.Exit(1)
    token = (home / "api-token").read_text().strip()
    return json.loads(path.read_text())["nodes"], token


def status(home: HomeOpt = DEFAULT_HOME) -> None:
    """Each node's health, record counts, outbox backlog and dead letters."""
    nodes, token = _load(home)
    asyncio.run(_status(nodes, token))


async def _status(nodes: dict[str, str], token: str) -> None:
    table = Table(title="jukinet status")
    for column in ("node", "ready", "records", "outbox", "dead letters"):
        table.add_column(column, no_wrap=True)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(timeout=5.0, headers=headers) as client:
        for uri, url in nodes.items():
            table.add_row(uri, *(await _node_row(client, url)))
    console.print(table)


async def _node_row(client: httpx.AsyncClient, url: str) -> list[str]:
    try:
        ready = (await client.get(f"{url}/readyz")).json()
        st = (await client.get(f"{url}/status")).json()
    except httpx.HTTPError as exc:
        return [f"[red]{type(exc).__name__}", "", "", ""]
    readiness = "yes" if ready.get("ready") else f"[red]no ({ready})"
    counts = st.get("residents") or st.get("records") or {}
    records = ", ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "0"
    outbox = f"{st['outbox_unsealed']} pending, {st['outbox_unsent']} unsent"
    if st.get("outbox_undeliverable"):
        reasons = ", ".join(sorted(st.get("outbox_undeliverable_reasons", {})))
        outbox += f", [red]{st['outbox_undeliverable']} undeliverable ({reasons})"
    dead = str(st["dead_letters"])
    return [readiness, records, outbox, f"[red]{dead}" if st["dead_letters"] else dead]


def demo(
    home: HomeOpt = DEFAULT_HOME,
    residents: Annotated[int, typer.Option(min=1, max=1000)] = 5,
    seed: int = 0,
) -> None:
    """Register synthetic residents, move one, record a death; show them arrive upstream."""
    nodes, token = _load(home)
    asyncio.run(_demo(nodes, token, residents, seed))


async def _demo(nodes: dict[str, str], token: str, count: int, seed: int) -> None:
    from jukinet.devtools.synthetic import SyntheticResidents

    people = SyntheticResidents(seed)
    municipalities = [Principal.municipality(c) for c in DEMO.municipalities]
    headers = {"Authorization": f"Bearer {token}"}
    made: list[tuple[Principal, dict[str, Any]]] = []
    async with httpx.AsyncClient(timeout=10.0, headers=headers) as client:
        for i in range(count):
            town = municipalities[i % len(municipalities)]
            r = await client.post(
                f"{nodes[town.uri]}/residents", json=people.registration(town.code)
            )
            r.raise_for_status()
            made.append((town, r.json()))
            console.print(f"registered at {town.code}: {r.json()['resident_code']} (出生)")
        town = municipalities[count % len(municipalities)]
        r = await client.post(f"{nodes[town.uri]}/residents",
                              json=people.foreign_registration(town.code))  # fmt: skip
        r.raise_for_status()
        console.print(f"registered at {town.code}: {r.json()['resident_code']} "
                      "(外国人住民の転入)")  # fmt: skip
        town, moved = made[0]
        await _change(
            client,
            nodes[town.uri],
            moved,
            {"reason": "in_town_move", "address": people.address(town.code)},
        )
        console.print(f"moved within {town.code}: {moved['resident_code']} (転居)")
        if len(made) > 1:
            town, dead = made[1]
            await _change(client, nodes[town.uri], dead, {"reason": "death"})
            console.print(f"recorded a death at {town.code}: {dead['resident_code']} (死亡)")
        if len(made) > 2:
            made[2] = await _move_away(client, nodes, made[2], people)
        if len(made) > 3:
            await _file_online(client, nodes, made[3], people.address)
        await _show_upstream(client, nodes, made)


async def _move_away(
    client: httpx.AsyncClient,
    nodes: dict[str, str],
    made: tuple[Principal, dict[str, Any]],
    people: Any,
) -> tuple[Principal, dict[str, Any]]:
    """A move to a town in the other prefecture: the old town records the move-out
    (転出届), the new town the move-in with the person's code, and notifies the old one
    (転入通知), which confirms the move-out."""
    import datetime as dt

    old, person = made
    new = next(
        Principal.municipality(c)
        for c in DEMO.municipalities
        if Principal.municipality(c).prefecture_of != old.prefecture_of
    )
    today = dt.date.today().isoformat()
    facts = {k: person[k] for k in ("name", "name_kana", "birth_date", "sex")}
    body = {
        **facts, "address": people.address(new.code), "reason": "move_in",
        "change_date": today, "notified_on": today, "previous_address": person["address"],
        "previous_municipality": old.code, "resident_code": person["resident_code"],
    }  # fmt: skip
    leaving = {"reason": "move_out", "next_address": body["address"], "next_municipality": new.code}
    await _change(client, nodes[old.uri], person, leaving)
    r = await client.post(f"{nodes[new.uri]}/residents", json=body)
    r.raise_for_status()
    console.print(
        f"moved from {old.code} to {new.code}: {person['resident_code']} (転出届, then 転入届)"
    )
    return new, r.json()


async def _file_online(
    client: httpx.AsyncClient, nodes: dict[str, str], made: tuple[Principal, dict[str, Any]],
    address: Any,
) -> None:  # fmt: skip
    """転出届の特例: the resident gets a card at the counter and files the move-out online
    to the demo clerk's town (another town if they live there); its 転出証明書情報 waits
    at that town's counter (特例転入) for the clerk to record the 転入. The card's key
    lives only in memory here."""
    import datetime as dt

    from cryptography.hazmat.primitives.asymmetric import ed25519

    from jukinet.contracts.residentcard import ResidentCard

    old, person = made
    new = (
        COUNTER_TOWN
        if old != COUNTER_TOWN
        else next(Principal.municipality(c) for c in DEMO.municipalities if c != old.code)
    )
    card = ResidentCard(ed25519.Ed25519PrivateKey.generate())
    url = nodes[old.uri]
    r = await client.post(f"{url}/residents/{person['id']}/card",
                          json={"public_key": card.public_key})  # fmt: skip
    r.raise_for_status()
    today = dt.datetime.now(dt.UTC).date()
    filing = card.move_out(town=old.code, resident_code=person["resident_code"],
                           planned_on=today, destination_municipality=new.code,
                           destination_address=address(new.code),
                           visit_on=today + dt.timedelta(days=2))  # fmt: skip
    async with httpx.AsyncClient(timeout=10.0) as resident:  # no token: the card signs
        (await resident.post(f"{url}/move-outs/online", json={"filing": filing})).raise_for_status()
    console.print(f"filed online from {old.code} to {new.code}: {person['resident_code']} "
                  "(転出届の特例; the 転入 waits at the counter)")  # fmt: skip


async def _change(
    client: httpx.AsyncClient, url: str, resident: dict[str, Any], body: dict[str, Any]
) -> None:
    import datetime as dt

    today = dt.date.today().isoformat()
    body = {"change_date": today, "notified_on": today, **body}
    r = await client.post(f"{url}/residents/{resident['id']}/changes", json=body)
    r.raise_for_status()


async def _show_upstream(
    client: httpx.AsyncClient, nodes: dict[str, str], made: list[tuple[Principal, dict[str, Any]]]
) -> None:
    table = Table(title="arrived upstream (reason / version)")
    for column in ("resident code", "municipality", "prefecture", "agency"):
        table.add_column(column, no_wrap=True)
    await asyncio.sleep(1.0)
    for town, resident in made:
        code = resident["resident_code"]
        cells = []
        for node in (town.prefecture_of, AGENCY):
            cells.append(await _upstream_cell(client, nodes[node.uri], code))
        table.add_row(code, town.code, *cells)
    console.print(table)


async def _upstream_cell(client: httpx.AsyncClient, url: str, code: str) -> str:
    for _ in range(50):
        r = await client.post(f"{url}/records/lookup", json={"resident_code": code})
        if r.status_code == 200:
            view = r.json()
            return f"{view['record']['change_reason']} / v{view['version']} ({view['status']})"
        await asyncio.sleep(0.2)
    return "[red]not arrived"


__all__ = ["demo", "import_", "reconcile", "status", "up"]


def reconcile(
    home: HomeOpt = DEFAULT_HOME,
    repair: Annotated[
        bool, typer.Option(help="Repair lower tiers from the municipalities.")
    ] = False,
    every: Annotated[float, typer.Option(help="Repeat every N seconds (0: once).")] = 0.0,
    times: Annotated[int, typer.Option(help="How many rounds when repeating.")] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Compare every tier with the municipalities (counts and codes only); optionally repair."""
    from jukinet.reconcile.driver import RepairSent, reconcile_federation

    nodes, token = _load(home)
    for round_ in range(max(times, 1)):
        sent: list[RepairSent] = []
        reports = asyncio.run(reconcile_federation(nodes, token, repair=repair, sent=sent))
        if as_json:
            console.print_json(json.dumps([r.as_dict() for r in reports]))
        else:
            _print_reconcile(reports)
            for s in sent:
                console.print(
                    f"repair {s.municipality}: sent {s.records} current records and "
                    f"{s.absent} absence notices for {s.codes} drifted codes"
                )
            if repair and not sent:
                console.print("nothing to repair")
        if every <= 0 or round_ == times - 1:
            break
        time.sleep(every)
    if any(not r.drift.clean for r in reports) and not repair:
        raise typer.Exit(1)


def _print_reconcile(reports: list[Any]) -> None:
    table = Table(title="reconciliation (整合性確認)")
    for column in ("municipality", "tier", "missing", "extra", "differing", "codes"):
        table.add_column(column, overflow="fold")
    for r in reports:
        d = r.drift
        codes = ", ".join((d.missing + d.extra + d.differing)[:10])
        table.add_row(
            r.municipality,
            r.tier,
            str(len(d.missing)),
            str(len(d.extra)),
            str(len(d.differing)),
            codes,
        )
    console.print(table)


def import_(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="The CSV file.")],
    municipality: Annotated[str, typer.Option(help="Municipality code, e.g. 142034.")],
    home: HomeOpt = DEFAULT_HOME,
    wait: Annotated[bool, typer.Option(help="Follow propagation to the agency.")] = True,
    encoding: Annotated[
        str,
        typer.Option(help="utf-8, shift_jis (CP932, as register systems export), or auto."),
    ] = "auto",
    operator: Annotated[
        str | None,
        typer.Option(help="Your operator slug: the import is logged as you (with --card)."),
    ] = None,
    card: Annotated[
        Path | None,
        typer.Option(exists=True, file_okay=False, help="Your IC card's directory."),
    ] = None,
) -> None:
    """Import a municipality's register from CSV: every row valid, or nothing imported.

    With --operator and --card (an administrator's; the password from
    JUKINET_OPERATOR_PASSWORD or asked for) the operation log names you; without them
    the import runs with the node's token and the log names the node's system."""
    if (operator is None) != (card is None):
        raise typer.BadParameter("give --operator and --card together", param_hint="--card")
    nodes, token = _load(home)
    town = Principal.municipality(municipality)
    charset = "" if encoding == "auto" else f"; charset={encoding}"
    importer = token if operator is None or card is None else _session(nodes, town, operator, card)
    with file.open("rb") as f:
        result = asyncio.run(
            _import(
                nodes,
                (token, importer),
                town,
                f,
                file.stat().st_size,
                wait,
                f"text/csv{charset}",
                file.with_name(file.name + ".codes.csv"),
            )
        )
    raise typer.Exit(result)


def _session(nodes: dict[str, str], town: Principal, slug: str, card: Path) -> str:
    """Log in at the town with password and IC card: the session token."""
    from jukinet.cli.operators import password_of
    from jukinet.operators import IcCard, card_login

    password = password_of(confirm=False)

    async def run() -> httpx.Response:
        async with httpx.AsyncClient(base_url=nodes[town.uri], timeout=30.0) as client:
            return await card_login(client, town, slug, password, IcCard(card))

    response = asyncio.run(run())
    if response.status_code != 200:
        console.print(f"[red]login refused:[/] {response.json().get('title')}")
        raise typer.Exit(1)
    return str(response.json()["token"])


async def _import(
    nodes: dict[str, str],
    tokens: tuple[str, str],
    town: Principal,
    f: BinaryIO,
    size: int,
    wait: bool,
    content_type: str,
    codes_file: Path,
) -> int:
    from rich.progress import Progress

    node_token, importer = tokens  # the node's (to follow propagation), the importer's
    headers = {"Authorization": f"Bearer {node_token}"}
    csv_type = {"Content-Type": content_type, "Authorization": f"Bearer {importer}"}
    async with httpx.AsyncClient(timeout=3600.0, headers=headers) as client:
        with Progress(console=console) as progress:
            upload = progress.add_task("uploading and validating", total=size)

            async def chunks() -> Any:
                while block := await asyncio.to_thread(f.read, 1 << 20):
                    progress.advance(upload, len(block))
                    yield block

            before = await _agency_count(client, nodes, town)
            url = f"{nodes[town.uri]}/residents/import"
            r = await client.post(url, content=chunks(), headers=csv_type)
            if r.status_code != 201:
                _print_rejection(r)
                return 1
            imported = int(r.json()["imported"])
            kept = _keep_codes(codes_file, r.json().get("resident_codes", []))
            console.print(f"imported {imported:,} residents at {town.code}; codes in {kept}")
            if wait:
                task = progress.add_task("arriving at the agency", total=imported)
                for _ in range(36000):
                    done = await _agency_count(client, nodes, town) - before
                    progress.update(task, completed=done)
                    if done >= imported:
                        break
                    await asyncio.sleep(0.5)
    return 0


async def _agency_count(client: httpx.AsyncClient, nodes: dict[str, str], town: Principal) -> int:
    r = await client.post(
        f"{nodes[AGENCY.uri]}/reconcile/digests", json={"municipality": town.code}
    )
    r.raise_for_status()
    return int(r.json()["count"])


def _keep_codes(path: Path, codes: list[str]) -> Path:
    """Each row's resident code by the CSV's line number, owner-only (personal data)."""
    lines = ["line,resident_code", *(f"{i + 2},{code}" for i, code in enumerate(codes))]
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _print_rejection(r: httpx.Response) -> None:
    body = r.json()
    console.print(
        f"[red]{body.get('title', 'import refused')} ({body.get('rejected_rows', '?')} rows)"
    )
    table = Table()
    table.add_column("line", justify="right")
    table.add_column("problem")
    for e in body.get("errors", [])[:50]:
        table.add_row(str(e["line"]), e["problem"])
    console.print(table)
