"""A whole federation on one machine: broker, agency, prefectures and municipalities,
each a real process with its own SQLite (or PostgreSQL) database.

Used by `jukinet up`, the federation tests and the benchmarks.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import importlib.util
import json
import os
import secrets
import signal
import socket
import ssl
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import MetaData

from jukinet.broker import BrokerConfig, BrokerProcess, ensure_streams, pinned_certs, render
from jukinet.bus import connect, tls_context
from jukinet.contracts.federation import BROKER_NAMES, DEMO, Federation
from jukinet.contracts.principals import Principal, PrincipalKind
from jukinet.db.engine import create_engine, session_factory
from jukinet.devtools.forkserver import ForkedProcess, fork_server
from jukinet.lookups import load_permissions, load_table, lookup_tables
from jukinet.node.logs import logging_config
from jukinet.pki import (
    HTTPS_CERT,
    LOCAL_HOSTS,
    SERVING_KINDS,
    CertificateAuthority,
    PkiLayout,
    Purpose,
    read_certificate,
    revoke,
    utcnow,
)

__all__ = ["LocalFederation", "NodeProcess", "ensure_pki", "free_port", "share_listen_ports"]

_SERVICE = {
    PrincipalKind.MUNICIPALITY: "municipal",
    PrincipalKind.PREFECTURE: "prefecture",
    PrincipalKind.AGENCY: "agency",
}
RENEW_BEFORE = dt.timedelta(days=1)
# Clients drop idle connections well before servers do, so a request is never sent on a
# connection the server is closing (a POST cannot be retried safely).
SERVER_KEEP_ALIVE_S = 30
CLIENT_KEEP_ALIVE_S = 10.0


LISTEN_PORTS = range(20000, 32000)  # below Linux's ephemeral range (32768-60999)
_listen_ports = LISTEN_PORTS
_handed_out: set[int] = set()


def share_listen_ports(index: int, count: int) -> None:
    """Hand out only the ``index``-th of ``count`` equal slices of the listening ports,
    so that processes starting federations side by side never pick the same port."""
    global _listen_ports
    size = len(LISTEN_PORTS) // count
    start = LISTEN_PORTS.start + index * size
    _listen_ports = range(start, start + size)


def free_port() -> int:
    """A free port for a server to listen on later. The kernel's own choice (bind to 0)
    comes from the ephemeral range, where the many client connections of a running
    federation would take it before the server starts; so pick below that range, and
    never the same port twice in this process."""
    for _ in range(1000):
        port = _listen_ports.start + secrets.randbelow(len(_listen_ports))
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError("no free port below the ephemeral range")


def ensure_pki(layout: PkiLayout, federation: Federation, *, days: int = 7) -> None:
    """Create the CA and every credential if missing; renew those about to expire."""
    validity = dt.timedelta(days=days)
    if not layout.ca_cert.exists():
        # the CA's validity starts a day back, like a CA made ahead of the nodes it serves
        start = utcnow() - dt.timedelta(days=1)
        ca = CertificateAuthority.create(layout.ca_dir, validity=dt.timedelta(days=90), now=start)
    else:
        ca = CertificateAuthority.load(layout.ca_dir)
    horizon = utcnow() + RENEW_BEFORE
    for principal in federation.principals:
        cert = layout.node_dir(principal) / f"{_first_purpose(principal).value}.crt"
        https = layout.node_dir(principal) / HTTPS_CERT
        lacks_https = principal.kind in SERVING_KINDS and not https.exists()
        if lacks_https or not cert.exists() or read_certificate(cert).not_valid_after_utc < horizon:
            layout.issue(ca, principal, validity=validity, hosts=LOCAL_HOSTS)
    broker = layout.broker_dir / "tls.crt"
    if not broker.exists() or read_certificate(broker).not_valid_after_utc < horizon:
        layout.issue_broker(ca, dns_names=BROKER_NAMES, validity=validity)


def _first_purpose(principal: Principal) -> Purpose:
    return Purpose.SIGN if principal.kind is PrincipalKind.OPERATOR else Purpose.TLS


@dataclass
class NodeProcess:
    """One service process (uvicorn), its port, database and log file."""

    principal: Principal
    port: int
    env: dict[str, str]
    log_file: Path
    module: str | None = None  # run ``python -m module`` instead of the node's app
    probe_tls: ssl.SSLContext | None = None  # readiness over HTTPS with this client
    _proc: ForkedProcess | None = None

    @property
    def service(self) -> str:
        return _SERVICE[self.principal.kind]

    @property
    def url(self) -> str:
        scheme = "https" if self.probe_tls is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def start(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            return
        module, args = "uvicorn", [
            f"{self.service}.app:create_app", "--factory",
            "--host", "127.0.0.1", "--port", str(self.port),
            "--log-config", self.env["JUKINET_LOG_CONFIG"], "--no-access-log", "--no-proxy-headers",
            "--timeout-keep-alive", str(SERVER_KEEP_ALIVE_S),
        ]  # fmt: skip
        if self.module is not None:
            module, args = self.module, []
        self._proc = fork_server().spawn(module, args, {**os.environ, **self.env}, self.log_file)

    def kill(self) -> None:
        """Stop abruptly, as a crash or power loss would."""
        if self._proc is not None and self._proc.poll() is None:
            os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc.wait(10)

    def interrupt(self) -> None:
        """Ask the process to shut down (as Ctrl-C would) without waiting."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGINT)

    def stop(self, timeout: float = 15.0) -> None:
        if self._proc is None or self._proc.poll() is not None:
            return
        self.interrupt()
        try:
            self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self.running and self._proc is not None else None

    async def wait_ready(self, seconds: float = 60.0) -> None:
        path = "/healthz" if self.module is not None else "/readyz"
        verify: ssl.SSLContext | bool = self.probe_tls or True
        async with httpx.AsyncClient(timeout=2.0, verify=verify) as client:
            for _ in range(int(seconds / 0.2)):
                if not self.running:
                    raise RuntimeError(f"{self.principal.slug} exited; see {self.log_file}")
                try:
                    if (await client.get(f"{self.url}{path}")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
        raise TimeoutError(f"{self.principal.slug} not ready; see {self.log_file}")


@dataclass
class LocalFederation:
    """Everything under ``root``: pki/, broker/, db/, log/ and the operator token."""

    root: Path
    federation: Federation = DEMO
    database_url: Callable[[Principal], str] | None = None
    ports: dict[Principal, int] = field(default_factory=dict)
    broker_port: int = 0
    monitor_port: int = 0
    extra_env: dict[str, str] = field(default_factory=dict)  # settings for every process
    cluster: bool = False  # three nats-servers with routes over mTLS, streams replicated 3x
    nodes: dict[Principal, NodeProcess] = field(default_factory=dict, init=False)
    lookup_servers: dict[Principal, NodeProcess] = field(default_factory=dict, init=False)
    brokers: list[BrokerProcess] = field(default_factory=list, init=False)
    _broker_settings: list[tuple[BrokerConfig, Path]] = field(default_factory=list, init=False)
    broker_ports: list[int] = field(default_factory=list, init=False)

    @property
    def broker(self) -> BrokerProcess | None:
        """The first broker (the only one unless clustered)."""
        return self.brokers[0] if self.brokers else None

    @property
    def nats_urls(self) -> list[str]:
        return [f"tls://127.0.0.1:{port}" for port in self.broker_ports]

    @property
    def layout(self) -> PkiLayout:
        return PkiLayout(self.root / "pki")

    @property
    def nats_url(self) -> str:
        return self.nats_urls[0]

    @property
    def api_token(self) -> str:
        path = self.root / "api-token"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.write(fd, secrets.token_urlsafe(32).encode())
            os.close(fd)
        return path.read_text().strip()

    def prepare(self) -> None:
        for sub in ("broker", "db", "log"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        ensure_pki(self.layout, self.federation)
        self._prepare_brokers()
        log_config = self.root / "log-config.json"
        log_config.write_text(json.dumps(logging_config()))
        for node in self.federation.nodes:
            self.nodes[node] = self._node_process(node, log_config)
            if node.kind in (PrincipalKind.AGENCY, PrincipalKind.PREFECTURE):
                self.lookup_servers[node] = self._lookup_process(self.nodes[node])

    def _prepare_brokers(self) -> None:
        count = 3 if self.cluster else 1
        first = (self.broker_port or free_port(), self.monitor_port or free_port())
        ports = [first, *((free_port(), free_port()) for _ in range(count - 1))]
        routes = [free_port() for _ in range(count)] if self.cluster else []
        self.broker_ports = [client for client, _ in ports]
        self._broker_settings = []
        for i, (client, monitor) in enumerate(ports):
            name = f"jukinet-{i + 1}"
            config = BrokerConfig(
                port=client,
                monitor_port=monitor,
                store_dir=self.root / "broker" / f"jetstream-{i + 1}",
                server_name=name,
                cluster_port=routes[i] if routes else None,
                routes=[f"nats-route://127.0.0.1:{r}" for j, r in enumerate(routes) if j != i],
            )
            conf = self.root / "broker" / f"{name}.conf"
            self._broker_settings.append((config, conf))
            log = self.root / "log" / ("nats-server.log" if count == 1 else f"{name}.log")
            self.brokers.append(BrokerProcess(conf, f"http://127.0.0.1:{monitor}", log))
        self._write_broker_configs()

    def _write_broker_configs(self) -> None:
        pins = pinned_certs(self.layout, self.federation)
        for config, conf in self._broker_settings:
            pinned = dataclasses.replace(config, pinned_certs=pins)
            conf.write_text(render(pinned, self.layout, self.federation))

    def rotate(self, principal: Principal) -> None:
        """Reissue a node's credentials while everything runs: the brokers reload their
        pinned list (disconnecting the old certificate), then the old certificates are
        revoked from that moment — receivers judge a signer when the broker stored the
        message, so what the old connection stored before it was cut stays valid — and
        the node rolls over to the new files by itself."""
        node = self.layout.node_dir(principal)
        old = [read_certificate(p) for p in sorted(node.glob("*.crt"))]
        ca = CertificateAuthority.load(self.layout.ca_dir)
        self.layout.issue(ca, principal, validity=dt.timedelta(days=7), hosts=LOCAL_HOSTS)
        self._write_broker_configs()
        for broker in self.brokers:
            broker.reload()
        revoke(self.layout.revocations, old, utcnow())

    def _lookup_process(self, node: NodeProcess) -> NodeProcess:
        p = node.principal
        port = self.ports[p] + 1000 if p in self.ports else free_port()
        prefix = f"JUKINET_{node.service.upper()}_"
        env = {**node.env, prefix + "LOOKUP_PORT": str(port)}
        ops = Principal(PrincipalKind.OPS, self.federation.ops[0])
        return NodeProcess(
            node.principal,
            port,
            env,
            self.root / "log" / f"{node.principal.slug}.lookups.log",
            module=f"{node.service}.lookup_server",
            probe_tls=self.https_client_tls(ops),
        )

    def https_client_tls(self, client: Principal) -> ssl.SSLContext:
        """TLS for calling a lookup server as ``client``: the federation CA is the only
        trust anchor; servers are named by their principal URI, not a host name."""
        d = self.layout.node_dir(client)
        ctx = ssl.create_default_context(cafile=str(self.layout.ca_cert))
        ctx.check_hostname = False
        ctx.load_cert_chain(d / "tls.crt", d / "tls.key")
        return ctx

    def lookup_client(self, server: Principal, client: Principal) -> httpx.AsyncClient:
        """An HTTPS client of ``server``'s lookup API, authenticated as ``client``."""
        return httpx.AsyncClient(
            base_url=self.lookup_servers[server].url,
            verify=self.https_client_tls(client),
            timeout=60.0,
            limits=httpx.Limits(keepalive_expiry=CLIENT_KEEP_ALIVE_S),
        )

    def _node_process(self, node: Principal, log_config: Path) -> NodeProcess:
        port = self.ports.get(node) or free_port()
        prefix = f"JUKINET_{_SERVICE[node.kind].upper()}_"
        db = (
            self.database_url(node)
            if self.database_url
            else f"sqlite:///{self.root / 'db' / (node.slug + '.db')}"
        )
        env = {
            prefix + "PRINCIPAL": node.uri,
            prefix + "PKI_ROOT": str(self.layout.root),
            prefix + "DATABASE_URL": db,
            prefix + "NATS_SERVERS": json.dumps(self.nats_urls),
            prefix + "API_TOKEN": self.api_token,
            "JUKINET_LOG_CONFIG": str(log_config),
            **self.extra_env,
        }
        return NodeProcess(node, port, env, self.root / "log" / f"{node.slug}.log")

    async def start_broker(self) -> None:
        if not self.brokers:
            raise RuntimeError("prepare() the federation first")
        for broker in self.brokers:
            broker.start()
        await asyncio.gather(*(broker.wait_ready() for broker in self.brokers))
        ops = Principal(PrincipalKind.OPS, self.federation.ops[0])
        nc = await connect(ops, self.nats_urls, self.tls(ops))
        try:
            for attempt in range(60):  # a new cluster first elects its JetStream leader
                try:
                    await ensure_streams(nc, self.federation, replicas=len(self.brokers))
                    break
                except Exception:
                    if attempt == 59:
                        raise
                    await asyncio.sleep(0.5)
        finally:
            await nc.close()

    def tls(self, principal: Principal) -> ssl.SSLContext:
        d = self.layout.node_dir(principal)
        return tls_context(d / "tls.crt", d / "tls.key", self.layout.ca_cert)

    async def start(self, only: set[Principal] | None = None) -> None:
        """Start the broker and the nodes (all, or ``only`` those)."""
        self.prepare()
        await self.start_broker()
        chosen = [n for p, n in self.nodes.items() if only is None or p in only]
        for node in chosen:
            node.start()
        codes = any(n.principal.kind is PrincipalKind.AGENCY for n in chosen)
        await asyncio.gather(*(self._bring_up(node, codes=codes) for node in chosen))

    async def _bring_up(self, node: NodeProcess, *, codes: bool) -> None:
        """Wait for one node, then at once for what hangs on it alone — not for the
        others: a serving node's lookup server (its permission table loaded while the
        server starts: the server reads the tables only per request), a municipality's
        first resident codes (``codes``: when the agency runs to hand them out)."""
        await node.wait_ready()
        server = self.lookup_servers.get(node.principal)
        if server is not None:
            server.start()
            await asyncio.gather(load_permission_file(server), server.wait_ready())
        if codes and node.principal.kind is PrincipalKind.MUNICIPALITY:
            await self.wait_for_codes(node.principal)

    async def wait_for_codes(self, town: Principal, seconds: float = 60.0) -> None:
        """Until ``town`` holds resident codes: a new municipality's pool stays empty until
        the agency answers its first refill request (so this needs the agency running)."""
        async with self.client(town) as client:
            for _ in range(int(seconds / 0.2)):  # bounded
                r = await client.get("/status")
                if r.status_code == 200 and r.json().get("code_pool", {}).get("undrawn", 0) > 0:
                    return
                await asyncio.sleep(0.2)
        raise TimeoutError(
            f"{town.slug} received no resident codes; see {self.nodes[town].log_file}"
        )

    def stop(self) -> None:
        processes = [*self.lookup_servers.values(), *self.nodes.values()]
        for process in processes:
            process.interrupt()
        for process in processes:
            process.stop()
        for broker in self.brokers:
            broker.stop()

    def pids(self) -> list[int | None]:
        """Every process of the federation: brokers, nodes, lookup servers (``None``: not
        running)."""
        processes = [*self.nodes.values(), *self.lookup_servers.values()]
        return [b.pid for b in self.brokers] + [p.pid for p in processes]

    def client(self, node: Principal) -> httpx.AsyncClient:
        """An HTTP client for a node's operator API."""
        return httpx.AsyncClient(
            base_url=self.nodes[node].url,
            headers={"Authorization": f"Bearer {self.api_token}"},
            timeout=30.0,
            limits=httpx.Limits(keepalive_expiry=CLIENT_KEEP_ALIVE_S),
        )


def permission_file(node: Principal) -> Path:
    """The permission table shipped with a serving node's service package."""
    service = _SERVICE[node.kind]
    spec = importlib.util.find_spec(service)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"service package {service} not installed")
    directory = Path(next(iter(spec.submodule_search_locations))) / "permissions"
    name = "table.toml" if node.kind is PrincipalKind.AGENCY else f"table-{node.code}.toml"
    return directory / name


async def load_permission_file(server: NodeProcess) -> None:
    """Load the node's shipped permission table into its database (what `jukinet
    permissions load` does), so a fresh local federation can serve lookups."""
    url = next(v for k, v in server.env.items() if k.endswith("_DATABASE_URL"))
    table = load_table(permission_file(server.principal))
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session, session.begin():
            await load_permissions(session, lookup_tables(MetaData()), table)
    finally:
        await engine.dispose()
