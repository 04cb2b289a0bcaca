"""Render a deployment directory from its federation description: the compose file, the
broker configuration, every principal's credentials, the secret files and the
permission tables the lookup servers load. Rendering again changes only what the
description changed: existing keys, secrets and tables are kept."""

from __future__ import annotations

import datetime as dt
import importlib.resources
import json
import secrets
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from jukinet.broker import BrokerConfig, pinned_certs, render
from jukinet.contracts.federation import BROKER_NAMES
from jukinet.contracts.principals import Principal, PrincipalKind
from jukinet.deploy._description import Deployment, load_description
from jukinet.pki import (
    CertificateAuthority,
    PkiLayout,
    credentials_expiry,
    read_certificate,
    renew_expiring,
    utcnow,
)

__all__ = [
    "DeployDir",
    "NoCertificateAuthority",
    "Rendered",
    "broker_configs",
    "ca_expiry",
    "compose_text",
    "render_deployment",
    "renew_deployment",
]

NATS_IMAGE = "nats:2.15.1-alpine"  # the nats-server version pinned in uv.lock
CA_DAYS = 365
BROKERS = ("nats", "nats-2", "nats-3")  # the compose services; the cluster profile adds 2, 3
# what each kind of node runs: its service package and the prefix of its settings
_SERVICE = {
    PrincipalKind.AGENCY: ("agency", "JUKINET_AGENCY_"),
    PrincipalKind.PREFECTURE: ("prefecture", "JUKINET_PREFECTURE_"),
    PrincipalKind.MUNICIPALITY: ("municipal", "JUKINET_MUNICIPAL_"),
}
_SECTION = {
    PrincipalKind.AGENCY: "agency",
    PrincipalKind.PREFECTURE: "prefectures",
    PrincipalKind.MUNICIPALITY: "municipalities",
}


class NoCertificateAuthority(RuntimeError):
    """Credentials are missing and the CA key is not here to issue them."""


@dataclass(frozen=True)
class DeployDir:
    """A deployment directory (``deploy/``) and the files rendering keeps in it."""

    root: Path

    @property
    def description(self) -> Path:
        return self.root / "federation.toml"

    @property
    def compose(self) -> Path:
        return self.root / "compose.yaml"

    @property
    def pki(self) -> PkiLayout:
        return PkiLayout(self.root / "pki")

    @property
    def secrets(self) -> Path:
        return self.root / "secrets"

    @property
    def broker(self) -> Path:
        return self.root / "broker"

    @property
    def permissions(self) -> Path:
        return self.root / "permissions"

    def load(self) -> Deployment:
        return load_description(self.description)


@dataclass
class Rendered:
    """What a render wrote or created, for the operator to read."""

    issued: list[str] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)


def service_name(node: Principal) -> str:
    """The compose service of a node: ``municipality-142034``."""
    return node.slug.replace(".", "-")


def https_hosts(deployment: Deployment, node: Principal) -> list[str]:
    """Where a serving node's lookup server is reached: the description's hosts and, for
    clients inside the deployment, its compose service."""
    if node not in deployment.serving:
        return []
    return [*deployment.lookup_hosts, f"{service_name(node)}-lookups"]


# --- the compose file ---------------------------------------------------------------------


@cache
def _template() -> jinja2.Template:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("jukinet.deploy", "templates"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # noqa: S701 - YAML, not HTML; strings go through yamlstr
    )
    env.filters["yamlstr"] = lambda s: json.dumps(str(s), ensure_ascii=False)
    return env.get_template("compose.yaml.j2")


def _node_context(deployment: Deployment, tables: set[Principal]) -> list[dict[str, Any]]:
    http, lookups = deployment.http_ports(), deployment.lookup_ports()
    nodes, seen = [], set()
    for node in deployment.federation.nodes:
        service, prefix = _SERVICE[node.kind]
        nodes.append(
            {
                "name": service_name(node),
                "slug": node.slug,
                "uri": node.uri,
                "service": service,
                "prefix": prefix,
                "token_file": f"{prefix}api_token".lower(),
                "http_port": http[node],
                "lookup_port": lookups.get(node),
                "table": node in tables,
                "town": (
                    deployment.town(node.code) if node.kind is PrincipalKind.MUNICIPALITY else None
                ),
                "first_of_kind": node.kind not in seen,
                "section": _SECTION[node.kind],
            }
        )
        seen.add(node.kind)
    return nodes


def compose_text(deployment: Deployment, tables: set[Principal]) -> str:
    """The compose file of ``deployment``; ``tables``: the serving nodes that have a
    permission table file to load at start."""
    counts = (
        f"the agency, {len(deployment.prefectures)} prefectures and "
        f"{len(deployment.municipalities)} municipalities"
    )
    return _template().render(
        nodes=_node_context(deployment, tables), counts=counts, nats_image=NATS_IMAGE
    )


# --- the broker ---------------------------------------------------------------------------


def broker_configs(deployment: Deployment, layout: PkiLayout) -> dict[str, str]:
    """``nats.conf`` for a single broker, and ``nats-1.conf`` … ``nats-3.conf``: the three
    servers of the compose file's cluster profile (``JUKINET_NATS_CONF=nats-1.conf``
    for the first), as the brokers
    see the PKI (mounted at /pki). The pinned list comes from ``layout``."""
    pins = pinned_certs(layout, deployment.federation)
    inside = PkiLayout(Path("/pki"))

    def config(name: str, index: int, *, cluster: bool) -> str:
        routes = [f"nats-route://{peer}:6222" for peer in BROKERS if peer != name]
        settings = BrokerConfig(
            port=4222,
            monitor_port=8222,
            store_dir=Path("/data/jetstream"),
            host="0.0.0.0",  # noqa: S104 - inside its container
            server_name=f"jukinet-{index}",
            cluster_port=6222 if cluster else None,
            routes=routes if cluster else [],
            pinned_certs=pins,
        )
        return render(settings, inside, deployment.federation) + "\n"

    files = {"nats.conf": config("nats", 1, cluster=False)}
    for index, name in enumerate(BROKERS, start=1):
        files[f"nats-{index}.conf"] = config(name, index, cluster=True)
    return files


# --- credentials, secrets, permission tables ----------------------------------------------


def _authority(pki: PkiLayout, *, create: bool) -> CertificateAuthority:
    if (pki.ca_dir / "ca.key").exists():
        return CertificateAuthority.load(pki.ca_dir)
    if create:
        return CertificateAuthority.create(pki.ca_dir, validity=dt.timedelta(days=CA_DAYS))
    raise NoCertificateAuthority(
        f"the CA key is not in {pki.ca_dir}: run this on the machine that keeps it"
    )


def ensure_credentials(deployment: Deployment, pki: PkiLayout) -> list[str]:
    """Issue credentials to every principal of the description that has none (and the
    broker's), creating the CA for a new deployment; the URIs issued."""
    missing = [
        p for p in deployment.federation.principals if not any(pki.node_dir(p).glob("*.crt"))
    ]
    broker = not (pki.broker_dir / "tls.crt").exists()
    if not missing and not broker:
        return []
    ca = _authority(pki, create=not pki.ca_cert.exists())
    validity = dt.timedelta(days=deployment.cert_days)
    for principal in missing:
        pki.issue(ca, principal, validity=validity, hosts=https_hosts(deployment, principal))
    if broker:
        pki.issue_broker(ca, dns_names=BROKER_NAMES, validity=validity)
    return [p.uri for p in missing] + (["the broker"] if broker else [])


def _write_secret(path: Path, text: str) -> None:
    path.touch(mode=0o600, exist_ok=False)
    path.write_text(text, encoding="utf-8")


def ensure_secrets(deployment: Deployment, directory: Path) -> list[str]:
    """Each node's API token, database password and the pgpass line that carries it,
    created owner-only where missing (an existing file is never changed: the database
    keeps the password it was initialised with)."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    created = []
    for node in deployment.federation.nodes:
        slug, name = node.slug, service_name(node)
        password_file = directory / f"{slug}.db-password"
        if not password_file.exists():
            _write_secret(password_file, secrets.token_hex(32))
            created.append(password_file.name)
        password = password_file.read_text(encoding="utf-8").strip()
        pgpass = directory / f"{slug}.pgpass"
        if not pgpass.exists():
            _write_secret(pgpass, f"db-{name}:5432:jukinet:jukinet:{password}\n")
            created.append(pgpass.name)
        token = directory / f"{slug}.api-token"
        if not token.exists():
            _write_secret(token, secrets.token_hex(32))
            created.append(token.name)
    return created


def shipped_table(node: Principal) -> str | None:
    """The permission table a serving node's service package ships, if any."""
    service, _ = _SERVICE[node.kind]
    name = "table.toml" if node.kind is PrincipalKind.AGENCY else f"table-{node.code}.toml"
    resource = importlib.resources.files(service) / "permissions" / name
    return resource.read_text(encoding="utf-8") if resource.is_file() else None


def ensure_tables(deployment: Deployment, directory: Path) -> set[Principal]:
    """The serving nodes with a permission table file in ``directory``; a missing one is
    copied from what its service ships (the operator's edits are never overwritten)."""
    directory.mkdir(parents=True, exist_ok=True)
    present = set()
    for node in deployment.serving:
        path = directory / f"{node.slug}.toml"
        if not path.exists():
            text = shipped_table(node)
            if text is None:
                continue
            path.write_text(text, encoding="utf-8")
        present.add(node)
    return present


# --- the whole directory ------------------------------------------------------------------


def write_broker_configs(deployment: Deployment, where: DeployDir) -> list[str]:
    where.broker.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in broker_configs(deployment, where.pki).items():
        path = where.broker / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            tmp = path.with_suffix(".tmp")
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(path)  # the reloader sees a whole file or the old one
            written.append(str(path))
    return written


def render_deployment(where: DeployDir, deployment: Deployment | None = None) -> Rendered:
    """Bring ``where`` in line with its description (or with ``deployment``)."""
    deployment = deployment or where.load()
    done = Rendered()
    done.issued = ensure_credentials(deployment, where.pki)
    done.secrets = ensure_secrets(deployment, where.secrets)
    tables = ensure_tables(deployment, where.permissions)
    done.tables = sorted(n.slug for n in tables)
    compose = compose_text(deployment, tables)
    if not where.compose.exists() or where.compose.read_text(encoding="utf-8") != compose:
        where.compose.write_text(compose, encoding="utf-8")
        done.files.append(str(where.compose))
    done.files += write_broker_configs(deployment, where)
    return done


def renew_deployment(where: DeployDir, now: dt.datetime | None = None) -> list[str]:
    """One pass of the renewer: reissue what expires within the description's
    ``renew_within_days`` and, when anything was, rewrite the broker configuration
    (the pinned list names the new certificates). What was renewed. The CA key is read
    only when something is due, so it may be brought in for the renewals alone."""
    deployment = where.load()
    pki = where.pki
    horizon = (now or utcnow()) + dt.timedelta(days=deployment.renew_within_days)
    if not _anything_due(pki, horizon):
        return []
    renewed = renew_expiring(
        pki,
        _authority(pki, create=False),
        horizon=horizon,
        validity=dt.timedelta(days=deployment.cert_days),
        hosts=lambda p: https_hosts(deployment, p),
    )
    if renewed:
        write_broker_configs(deployment, where)
    return renewed


def _anything_due(pki: PkiLayout, horizon: dt.datetime) -> bool:
    nodes = any(
        p.kind is not PrincipalKind.OPERATOR and expiry < horizon
        for p, expiry in credentials_expiry(pki)
    )
    broker = pki.broker_dir / "tls.crt"
    return nodes or (broker.exists() and read_certificate(broker).not_valid_after_utc < horizon)


def ca_expiry(where: DeployDir) -> dt.datetime:
    """When the federation CA's certificate expires (nothing renews it: a new CA is a
    planned operation, announced well before)."""
    return read_certificate(where.pki.ca_cert).not_valid_after_utc
