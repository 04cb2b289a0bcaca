"""The structure of the operations deployment: deploy/compose.yaml and deploy/Dockerfile.

No Docker needed. The compose file is read as YAML, with anchors and merge keys resolved,
and checked against the deployment's rules. Each rule is a function that returns its
violations. The rules run on two documents: the checked-in deploy/compose.yaml (which
must be what `jukinet deploy render` makes of deploy/federation.toml), and one rendered
for a national-scale federation (47 prefectures, 360 municipalities). Every rule also
runs on a deliberately broken copy of the document, which shows it catches what it is
meant to.
"""

from __future__ import annotations

import copy
import json
import os
import posixpath
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from agency.settings import AgencySettings
from jukinet.contracts.ids import local_government_check_digit
from jukinet.contracts.principals import Principal, PrincipalKind
from jukinet.deploy import Deployment, compose_text, load_description, service_name
from jukinet.deploy._render import shipped_table
from jukinet.node.settings import NodeSettings
from municipal.settings import MunicipalSettings
from prefecture.settings import PrefectureSettings

yaml = pytest.importorskip(
    "yaml", reason="PyYAML is not installed: add pyyaml to the dev dependency group"
)

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
COMPOSE = DEPLOY / "compose.yaml"

# Bind-mount sources are resolved against the compose file's directory.
ROOT = PurePosixPath(DEPLOY)
PKI = ROOT / "pki"
CA_DIR = PKI / "ca"
NODES = PKI / "nodes"
SECRETS_MOUNT = PurePosixPath("/run/secrets")
PGDATA = "/var/lib/postgresql/data"
NATS = "nats"
INIT = "jukinet-init"
INSIDE = ("0.0.0.0", "8443")  # noqa: S104 - a lookup server in its container
RENEWER = "pki-renewer"  # the one service with the CA key: no network at all
NATS_URL = "tls://nats:4222"

SETTINGS: dict[PrincipalKind, tuple[str, type[NodeSettings]]] = {
    PrincipalKind.MUNICIPALITY: ("municipal", MunicipalSettings),
    PrincipalKind.PREFECTURE: ("prefecture", PrefectureSettings),
    PrincipalKind.AGENCY: ("agency", AgencySettings),
}
SECRET_WORDS = ("PASSWORD", "TOKEN", "SECRET", "KEY")
INLINE_CREDENTIALS = re.compile(r"://[^/\s:@]+:[^/\s@]*@")  # scheme://user:password@host


# --- reading the document ---------------------------------------------------------------


def load() -> dict[str, Any]:
    with COMPOSE.open(encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    assert isinstance(doc, dict)
    return doc


def shipped_tables(deployment: Deployment) -> set[Principal]:
    return {node for node in deployment.serving if shipped_table(node) is not None}


def large() -> Deployment:
    """Every prefecture, and the first municipalities of each (valid codes with their
    check digits), 360 in all, with ports past the defaults' range."""
    demo = load_description(DEPLOY / "federation.toml")
    prefectures = [_with_check_digit(f"{n:02d}0000") for n in range(1, 48)]
    per_prefecture = 360 // 47 + 1  # a few more than 7 each, then cut at 360
    towns = [
        {"code": _with_check_digit(f"{n:02d}{201 + i:03d}0"), "name": f"見本{n}-{i}市",
         "mayor": "市長　見本　太郎"}
        for n in range(1, 48)
        for i in range(per_prefecture)
    ][:360]  # fmt: skip
    return Deployment.model_validate(
        {
            "prefectures": prefectures,
            "municipalities": towns,
            "ministries": demo.ministries,
            "http_port": 20000,
            "lookup_port": 19000,
        }
    )


def _with_check_digit(code: str) -> str:
    return code[:5] + str(local_government_check_digit(code[:5]))


@dataclass(frozen=True)
class Case:
    doc: dict[str, Any]
    deployment: Deployment


def _case(name: str) -> Case:
    if name == "demo":
        return Case(load(), load_description(DEPLOY / "federation.toml"))
    deployment = large()
    text = compose_text(deployment, shipped_tables(deployment))
    return Case(yaml.safe_load(text), deployment)


@pytest.fixture(scope="module", params=["demo", "large"])
def case(request: pytest.FixtureRequest) -> Case:
    return _case(request.param)


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return load()


def services(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return doc.get("services") or {}


def environment(service: dict[str, Any]) -> dict[str, str | None]:
    """A service's environment in either compose form (mapping or list of KEY=VALUE)."""
    env = service.get("environment") or {}
    if isinstance(env, dict):
        return {str(k): None if v is None else str(v) for k, v in env.items()}
    pairs = (str(item).partition("=") for item in env)
    return {key: value if sep else None for key, sep, value in pairs}


def one_shot(doc: dict[str, Any]) -> set[str]:
    """Services something waits for to *complete*: jobs, not long-running services."""
    return {
        name
        for service in services(doc).values()
        if isinstance(service.get("depends_on"), dict)
        for name, dep in service["depends_on"].items()
        if (dep or {}).get("condition") == "service_completed_successfully"
    }


def principal_services(doc: dict[str, Any]) -> dict[str, Principal]:
    """Services that run as a principal (a node or its lookup server), by the principal
    in their environment."""
    found = {}
    for name, service in services(doc).items():
        for key, value in environment(service).items():
            if re.fullmatch(r"JUKINET_[A-Z]+_PRINCIPAL", key) and value:
                found[name] = Principal.parse(value)
    return found


def is_lookup_server(service: dict[str, Any]) -> bool:
    command = service.get("command") or []
    return len(command) == 3 and command[:2] == ["python", "-m"]


def node_services(doc: dict[str, Any]) -> dict[str, Principal]:
    """Services that run as a federation node (not its lookup server)."""
    return {
        name: principal
        for name, principal in principal_services(doc).items()
        if not is_lookup_server(services(doc)[name])
    }


def lookup_services(doc: dict[str, Any]) -> dict[str, Principal]:
    return {
        name: principal
        for name, principal in principal_services(doc).items()
        if is_lookup_server(services(doc)[name])
    }


def postgres_services(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in services(doc).items()
        if str(service.get("image", "")).startswith("postgres:")
    }


@dataclass(frozen=True)
class Mount:
    source: str | None
    target: str
    read_only: bool

    @property
    def is_bind(self) -> bool:
        return self.source is not None and self.source.startswith((".", "/", "~"))

    @property
    def host_path(self) -> PurePosixPath:
        """The bind source as an absolute, normalised host path."""
        assert self.source is not None
        source = os.path.expanduser(self.source)
        return PurePosixPath(posixpath.normpath(posixpath.join(ROOT, source)))


def mounts(service: dict[str, Any]) -> list[Mount]:
    result = []
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            result.append(
                Mount(volume.get("source"), volume["target"], bool(volume.get("read_only")))
            )
            continue
        parts = str(volume).split(":")
        if len(parts) == 1:
            result.append(Mount(None, parts[0], read_only=False))
        else:
            modes = parts[2].split(",") if len(parts) > 2 else []
            result.append(Mount(parts[0], parts[1], read_only="ro" in modes))
    return result


def secret_targets(service: dict[str, Any]) -> dict[str, str]:
    """Secret source → file name under /run/secrets."""
    targets = {}
    for secret in service.get("secrets") or []:
        if isinstance(secret, str):
            targets[secret] = secret
        else:
            targets[secret["source"]] = secret.get("target", secret["source"])
    return targets


def walk(node: Any, path: str = "", seen: set[int] | None = None) -> Iterator[tuple[str, Any]]:
    """Every mapping in the document with its path, once each (YAML aliases share objects)."""
    seen = set() if seen is None else seen
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from walk(value, f"{path}.{key}" if path else str(key), seen)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from walk(value, f"{path}[{i}]", seen)


# --- the rules: each returns its violations ---------------------------------------------


def missing_healthchecks(doc: dict[str, Any]) -> list[str]:
    jobs = one_shot(doc)
    problems = []
    for name, service in services(doc).items():
        if name in jobs:
            continue
        check = service.get("healthcheck") or {}
        test = check.get("test")
        if check.get("disable") or not test or test in (["NONE"], "NONE"):
            problems.append(f"{name}: long-running service without a healthcheck")
    return problems


def dependency_violations(doc: dict[str, Any]) -> list[str]:
    databases = postgres_services(doc)
    problems = []
    owners: Counter[str] = Counter()
    for name, principal in node_services(doc).items():
        service = services(doc)[name]
        prefix = env_prefix(principal)
        url = environment(service).get(prefix + "DATABASE_URL") or ""
        match = re.fullmatch(r"postgresql://[^@/]+@([^:/]+):5432/\w+", url)
        if not match:
            problems.append(f"{name}: {prefix}DATABASE_URL is not postgresql://user@host:5432/db")
            continue
        db = match.group(1)
        owners[db] += 1
        if db not in databases:
            problems.append(f"{name}: its database host {db} is not a postgres service")
        depends = service.get("depends_on")
        if not isinstance(depends, dict):
            problems.append(f"{name}: depends_on must use conditions")
            continue
        wanted = {
            db: "service_healthy",
            NATS: "service_healthy",
            INIT: "service_completed_successfully",
        }
        for dep, condition in wanted.items():
            if (depends.get(dep) or {}).get("condition") != condition:
                problems.append(f"{name}: must depend on {dep} with condition {condition}")
    problems += [f"{db}: shared by {n} nodes" for db, n in owners.items() if n > 1]
    for name, principal in lookup_services(doc).items():
        node = service_name(principal)
        depends = services(doc)[name].get("depends_on") or {}
        if (
            not isinstance(depends, dict)
            or (depends.get(node) or {}).get("condition") != "service_healthy"
        ):
            problems.append(f"{name}: must wait for {node} (healthy: migrated)")
    return problems


def renewer_violations(doc: dict[str, Any]) -> list[str]:
    """The renewer, which holds the CA key, reaches nothing: no network, no ports, no
    process of another container, no secrets."""
    renewer = services(doc).get(RENEWER)
    if renewer is None:
        return [f"{RENEWER}: missing (nothing renews the certificates)"]
    problems = []
    if renewer.get("network_mode") != "none":
        problems.append(f"{RENEWER}: must have network_mode none")
    for key in ("ports", "networks", "pid", "cap_add", "secrets"):
        if renewer.get(key):
            problems.append(f"{RENEWER}: must have no {key}")
    if renewer.get("command", [])[:3] != ["jukinet", "deploy", "renewer"]:
        problems.append(f"{RENEWER}: must run `jukinet deploy renewer`")
    return problems


def reloader_violations(doc: dict[str, Any]) -> list[str]:
    """Each broker has a reloader in its process namespace (and only a reloader shares
    one, or adds a capability), without network or keys."""
    brokers = [n for n, s in services(doc).items() if str(s.get("image", "")).startswith("nats:")]
    problems = []
    for name, service in services(doc).items():
        pid, caps = service.get("pid"), service.get("cap_add")
        if pid is None and not caps:
            continue
        reloads = (service.get("command") or [])[:3] == ["jukinet", "deploy", "reloader"]
        if not reloads or pid not in {f"service:{b}" for b in brokers} or caps != ["KILL"]:
            problems.append(f"{name}: only a broker's reloader shares its pid namespace (KILL)")
        if service.get("network_mode") != "none" or service.get("ports"):
            problems.append(f"{name}: a reloader has no network")
        if service.get("user") != "0:0" or "ALL" not in (service.get("cap_drop") or []):
            problems.append(f"{name}: signals a root broker: user 0:0 with every cap but KILL")
        if any(m.is_bind and m.host_path.is_relative_to(PKI) and m.host_path != NODES / "broker"
               for m in mounts(service)):  # fmt: skip
            problems.append(f"{name}: a reloader reads the broker's certificate only")
    reloaded = {services(doc)[n].get("pid") for n in services(doc)}
    problems += [f"{b}: no reloader" for b in brokers if f"service:{b}" not in reloaded]
    return problems


def mount_violations(doc: dict[str, Any]) -> list[str]:
    """No CA key anywhere but in the renewer; each service at most one key directory, a
    node and its lookup server only the node's own."""
    nodes = principal_services(doc)
    problems = []
    for name, service in services(doc).items():
        if name == RENEWER:
            continue  # renewer_violations: it holds the CA and reaches nothing
        own: list[str] = []
        for mount in mounts(service):
            if not mount.is_bind:
                continue
            path = mount.host_path
            if path.is_relative_to(CA_DIR) or CA_DIR.is_relative_to(path):
                problems.append(f"{name}: {mount.source} exposes the CA key (pki/ca)")
                continue
            if path == NODES:
                problems.append(f"{name}: {mount.source} exposes every node's keys")
            elif path.is_relative_to(NODES):
                identity = path.relative_to(NODES).parts[0]
                own.append(identity)
                if mount.target != f"/pki/nodes/{identity}":
                    problems.append(f"{name}: {mount.source} mounted as {mount.target}")
            if path.is_relative_to(PKI) and not mount.read_only:
                problems.append(f"{name}: {mount.source} must be mounted read-only")
        if len(set(own)) > 1:
            problems.append(f"{name}: mounts several key directories {sorted(set(own))}")
        if name in nodes:
            slug = nodes[name].slug
            problems += [
                f"{name}: mounts {other}'s keys, not only its own ({slug})"
                for other in own
                if other != slug
            ]
            targets = {m.target: m for m in mounts(service) if m.is_bind}
            for target, source in (
                (f"/pki/nodes/{slug}", NODES / slug),
                ("/pki/ca.crt", PKI / "ca.crt"),
                ("/pki/directory", PKI / "directory"),
            ):
                found = targets.get(target)
                if found is None or found.host_path != source:
                    problems.append(f"{name}: must mount {source.relative_to(ROOT)} at {target}")
    return problems


def inline_secret_violations(doc: dict[str, Any]) -> list[str]:
    """Secret-looking variables may only point at a file under /run/secrets.

    Messages name the variable, never its value: they end up in CI logs."""
    problems = []
    for path, mapping in walk(doc):
        if "env_file" in mapping:
            problems.append(f"{path}.env_file: its contents cannot be checked")
        if "environment" not in mapping:
            continue
        for key, value in environment(mapping).items():
            where = f"{path}.environment.{key}"
            if value is not None and INLINE_CREDENTIALS.search(value):
                problems.append(f"{where}: credentials inline in a URL")
            if not any(word in key.upper() for word in SECRET_WORDS):
                continue
            is_reference = (
                key.upper().endswith(("_FILE", "_DIR"))
                and value is not None
                and PurePosixPath(value).is_relative_to(SECRETS_MOUNT)
            )
            if not is_reference:
                problems.append(f"{where}: not a path to a file in /run/secrets")
    return problems


def secret_file_violations(doc: dict[str, Any]) -> list[str]:
    """File secrets only, each given to exactly one service."""
    declared = doc.get("secrets") or {}
    problems = [
        f"secret {name}: must be a file under ./secrets"
        for name, spec in declared.items()
        if set(spec or {}) != {"file"} or not str(spec["file"]).startswith("./secrets/")
    ]
    users = Counter(
        source for service in services(doc).values() for source in secret_targets(service)
    )
    problems += [f"secret {s}: used by {n} services" for s, n in users.items() if n != 1]
    problems += [f"secret {s}: not declared" for s in users if s not in declared]
    return problems


def node_secret_violations(doc: dict[str, Any]) -> list[str]:
    """A node gets its API token where pydantic-settings looks, and asyncpg's pgpass file."""
    problems = []
    for name, principal in principal_services(doc).items():
        service = services(doc)[name]
        targets = set(secret_targets(service).values())
        token_file = (env_prefix(principal) + "api_token").lower()
        if token_file not in targets:
            problems.append(f"{name}: no secret at /run/secrets/{token_file}")
        env = environment(service)
        pgpass = env.get("PGPASSFILE")
        if pgpass is None or PurePosixPath(pgpass).parent != SECRETS_MOUNT:
            problems.append(f"{name}: PGPASSFILE must name a file in /run/secrets")
        elif PurePosixPath(pgpass).name not in targets:
            problems.append(f"{name}: PGPASSFILE {pgpass} is not one of its secrets")
    for name, service in postgres_services(doc).items():
        password = environment(service).get("POSTGRES_PASSWORD_FILE")
        if password is None or PurePosixPath(password).name not in secret_targets(service).values():
            problems.append(f"{name}: POSTGRES_PASSWORD_FILE must name one of its secrets")
    return problems


def database_volume_violations(doc: dict[str, Any]) -> list[str]:
    declared = doc.get("volumes") or {}
    problems = []
    used: Counter[str] = Counter()
    for name, service in postgres_services(doc).items():
        data = [m for m in mounts(service) if m.target == PGDATA]
        if len(data) != 1 or data[0].source is None or data[0].is_bind:
            problems.append(f"{name}: needs one named volume at {PGDATA}")
            continue
        used[data[0].source] += 1
        if data[0].source not in declared:
            problems.append(f"{name}: volume {data[0].source} is not declared")
    problems += [f"volume {v}: shared by {n} databases" for v, n in used.items() if n > 1]
    return problems


def database_network_violations(doc: dict[str, Any]) -> list[str]:
    """A database shares only internal networks, and only with its own node."""
    declared = doc.get("networks") or {}
    members: dict[str, set[str]] = {}
    for name, service in services(doc).items():
        networks = service.get("networks") or ["default"]
        for network in networks:
            members.setdefault(network, set()).add(name)
    owner: dict[str, set[str]] = {}
    for name, principal in principal_services(doc).items():
        url = environment(services(doc)[name]).get(env_prefix(principal) + "DATABASE_URL") or ""
        host = urlhost(url)
        if host is not None:
            owner.setdefault(host, set()).add(name)
    problems = []
    for name, service in postgres_services(doc).items():
        for network in service.get("networks") or ["default"]:
            if not (declared.get(network) or {}).get("internal"):
                problems.append(f"{name}: network {network} must be internal")
            others = members[network] - {name, *owner.get(name, set())}
            if others:
                problems.append(f"{name}: network {network} also reaches {sorted(others)}")
    return problems


def port_violations(doc: dict[str, Any]) -> list[str]:
    problems = []
    for name, service in services(doc).items():
        if service.get("network_mode") == "host":
            problems.append(f"{name}: network_mode host publishes every port")
        for port in service.get("ports") or []:
            if isinstance(port, dict):
                host_ip = port.get("host_ip")
            else:
                parts = str(port).rsplit(":", 2)
                host_ip = parts[0] if len(parts) == 3 else None
            if host_ip != "127.0.0.1":
                problems.append(f"{name}: port {port!r} is not bound to 127.0.0.1")
    published = Counter(
        str(port).rsplit(":", 2)[1]
        for service in services(doc).values()
        for port in service.get("ports") or []
        if not isinstance(port, dict) and str(port).count(":") == 2
    )
    problems += [f"host port {p} published {n} times" for p, n in published.items() if n > 1]
    return problems


def _interpolated(value: str) -> str:
    """What compose makes of ``${VAR:-default}`` when VAR is unset (the single-broker case)."""
    match = re.fullmatch(r"\$\{[A-Z_]+:-(.*)\}", value)
    return match.group(1) if match else value


Rule = Callable[[dict[str, Any]], list[str]]


def federation_rule(deployment: Deployment) -> Rule:
    """The rule that the node services are exactly ``deployment``'s, each configured as
    itself, on the ports the description hands out, with a lookup server for each
    serving node."""

    def federation_violations(doc: dict[str, Any]) -> list[str]:
        problems = _node_violations(doc, deployment)
        problems += _port_plan_violations(doc, deployment)
        return problems + _lookup_violations(doc, deployment)

    return federation_violations


def _port_plan_violations(doc: dict[str, Any], deployment: Deployment) -> list[str]:
    problems = []
    plans = [(deployment.http_ports(), "", 8000), (deployment.lookup_ports(), "-lookups", 8443)]
    for ports, suffix, inside in plans:
        for node, port in ports.items():
            name = service_name(node) + suffix
            wanted = [f"127.0.0.1:{port}:{inside}"]
            if name in services(doc) and services(doc)[name].get("ports") != wanted:
                problems.append(f"{name}: should publish {wanted[0]}")
    return problems


def _lookup_violations(doc: dict[str, Any], deployment: Deployment) -> list[str]:
    lookups = lookup_services(doc)
    problems = []
    if sorted(lookups.values()) != sorted(deployment.serving):
        problems.append("lookup servers are not exactly the agency's and the prefectures'")
    for name, principal in lookups.items():
        service = services(doc)[name]
        module, _ = SETTINGS[principal.kind]
        prefix = env_prefix(principal)
        env = environment(service)
        node = services(doc).get(service_name(principal), {})
        if name != service_name(principal) + "-lookups":
            problems.append(f"{name}: should be named {service_name(principal)}-lookups")
        if service.get("command") != ["python", "-m", f"{module}.lookup_server"]:
            problems.append(f"{name}: should run python -m {module}.lookup_server")
        url = env.get(prefix + "DATABASE_URL")
        if url != environment(node).get(prefix + "DATABASE_URL"):
            problems.append(f"{name}: must read its node's database")
        if (env.get(prefix + "LOOKUP_HOST"), env.get(prefix + "LOOKUP_PORT")) != INSIDE:
            problems.append(f"{name}: must listen on 0.0.0.0:8443 inside its container")
        table = env.get(prefix + "PERMISSION_TABLE")
        mounted = {m.target: m for m in mounts(service)}
        if table is not None and (table not in mounted or not mounted[table].read_only):
            problems.append(f"{name}: its permission table {table} is not mounted read-only")
    return problems


def _node_violations(doc: dict[str, Any], deployment: Deployment) -> list[str]:
    nodes = node_services(doc)
    problems = []
    got, want = set(nodes.values()), set(deployment.federation.nodes)
    if got != want:
        missing = sorted(p.uri for p in want - got)
        extra = sorted(p.uri for p in got - want)
        problems.append(
            f"node services differ from the description: missing {missing}, extra {extra}"
        )
    problems += [
        f"principal {p.uri}: runs twice" for p, n in Counter(nodes.values()).items() if n > 1
    ]
    for name, principal in nodes.items():
        service = services(doc)[name]
        module, _ = SETTINGS[principal.kind]
        prefix = env_prefix(principal)
        expected_name = principal.slug.replace(".", "-")
        if name != expected_name:
            problems.append(f"{name}: should be named {expected_name}")
        env = environment(service)
        problems += [
            f"{name}: {key} is not a {module} setting"
            for key in env
            if key.startswith("JUKINET_")
            and not key.startswith(prefix)
            and key != "JUKINET_SECRETS_DIR"
        ]
        expected = {
            "PRINCIPAL": principal.uri,
            "PKI_ROOT": "/pki",
            "DATABASE_URL": f"postgresql://jukinet@db-{expected_name}:5432/jukinet",
        }
        for field, value in expected.items():
            if env.get(prefix + field) != value:
                problems.append(f"{name}: {prefix}{field} should be {value}")
        try:
            servers = json.loads(_interpolated(env.get(prefix + "NATS_SERVERS") or "null"))
        except json.JSONDecodeError:
            servers = None
        if servers != [NATS_URL]:
            problems.append(f"{name}: {prefix}NATS_SERVERS should be the JSON list [{NATS_URL!r}]")
        command = [
            "uvicorn", f"{module}.app:create_app", "--factory",
            "--host", "0.0.0.0", "--port", "8000",  # noqa: S104 - inside the container
            "--no-proxy-headers",  # the peer is the source the login limits count
            "--no-access-log",  # request lines are not the service's log (no paths logged)
        ]  # fmt: skip
        if service.get("command") != command:
            problems.append(f"{name}: command should be {' '.join(command)}")
        if principal.kind is PrincipalKind.MUNICIPALITY:
            town = deployment.town(principal.code)
            if (env.get(prefix + "ISSUER_NAME"), env.get(prefix + "MAYOR")) != (
                town.name,
                town.mayor,
            ):
                problems.append(f"{name}: ISSUER_NAME and MAYOR should be the description's")
    return problems


def env_prefix(principal: Principal) -> str:
    _, settings = SETTINGS[principal.kind]
    return str(settings.model_config.get("env_prefix", ""))


def urlhost(url: str) -> str | None:
    match = re.search(r"@([^:/]+)", url)
    return match.group(1) if match else None


RULES: list[Rule] = [
    missing_healthchecks,
    dependency_violations,
    mount_violations,
    renewer_violations,
    reloader_violations,
    inline_secret_violations,
    secret_file_violations,
    node_secret_violations,
    database_volume_violations,
    database_network_violations,
    port_violations,
]


# --- the deployment obeys every rule ----------------------------------------------------


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.__name__)
def test_compose_obeys(case: Case, rule: Rule) -> None:
    assert rule(case.doc) == []


def test_every_node_of_the_description_runs_as_itself(case: Case) -> None:
    assert federation_rule(case.deployment)(case.doc) == []
    assert len(postgres_services(case.doc)) == len(case.deployment.federation.nodes)


def test_the_checked_in_compose_file_is_rendered_from_the_description() -> None:
    deployment = load_description(DEPLOY / "federation.toml")
    rendered = compose_text(deployment, shipped_tables(deployment))
    assert COMPOSE.read_text(encoding="utf-8") == rendered, (
        "deploy/compose.yaml differs from federation.toml: run `jukinet deploy render`"
    )


def test_the_settings_read_what_compose_sets() -> None:
    """The names in compose.yaml follow the settings classes' prefixes and fields."""
    for _, settings in SETTINGS.values():
        fields = settings.model_fields
        assert {"principal", "pki_root", "database_url", "nats_servers", "api_token"} <= set(fields)


def test_broker(doc: dict[str, Any]) -> None:
    nats = services(doc)[NATS]
    version = re.fullmatch(r"nats:(\d+)\.(\d+)(?:\.(\d+))?-alpine", nats["image"])
    assert version, nats["image"]
    assert tuple(int(v or 0) for v in version.groups()) >= (2, 14, 5)
    # the directory, so a configuration renamed into place shows in the container
    assert nats["command"] == ["-c", "/etc/nats/${JUKINET_NATS_CONF:-nats.conf}"]
    by_target = {m.target: m for m in mounts(nats)}
    assert by_target["/etc/nats"].read_only
    assert by_target["/etc/nats"].host_path == ROOT / "broker"
    assert by_target["/pki/nodes/broker"].read_only
    assert by_target["/pki/ca.crt"].read_only
    jetstream = by_target["/data"]
    assert not jetstream.is_bind
    assert jetstream.source in doc["volumes"]
    test = nats["healthcheck"]["test"]
    assert any("8222/healthz" in str(part) for part in test)


def test_init_creates_the_streams_once_as_ops(doc: dict[str, Any]) -> None:
    init = services(doc)[INIT]
    assert init["command"] == [
        "jukinet", "broker", "init-streams", "--server", NATS_URL, "--pki-root", "/pki",
        "--replicas", "${JUKINET_STREAM_REPLICAS:-1}",
    ]  # fmt: skip
    assert init.get("restart") == "no"
    assert init["depends_on"][NATS]["condition"] == "service_healthy"
    assert INIT in one_shot(doc)
    assert {m.host_path for m in mounts(init)} == {PKI / "ca.crt", NODES / "ops.admin"}


def test_one_image_for_every_node(doc: dict[str, Any]) -> None:
    for name in [*node_services(doc), INIT]:
        service = services(doc)[name]
        assert service["image"] == services(doc)[INIT]["image"]
        assert service["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}


def test_dockerfile() -> None:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    # instructions, with continuation lines joined
    joined = re.sub(r"\\\n\s*", " ", text)
    lines = [
        line.strip() for line in joined.splitlines() if line.strip() and not line.startswith("#")
    ]
    froms = [line.split()[1] for line in lines if line.upper().startswith("FROM ")]
    assert froms
    assert all(image == "python:3.11-slim" for image in froms)
    assert "uv sync --frozen --no-dev" in text
    users = [line.split()[1] for line in lines if line.upper().startswith("USER ")]
    assert users, "the image must switch to a non-root user"
    assert users[-1].split(":")[0] not in ("root", "0")
    copied = " ".join(line for line in lines if line.upper().startswith(("COPY ", "ADD ")))
    assert "pki" not in copied
    assert "secret" not in copied.lower()
    for line in lines:
        if line.upper().startswith(("ENV ", "ARG ")):
            assert not any(word in line.upper() for word in ("PASSWORD", "TOKEN", "SECRET"))

    # the build context is an allowlist: nothing from deploy/ (keys, secrets) or var/
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text(encoding="utf-8").splitlines()
    patterns = [line.strip() for line in ignore if line.strip() and not line.startswith("#")]
    assert patterns[0] == "**"
    included = [p.removeprefix("!") for p in patterns if p.startswith("!")]
    assert not [p for p in included if p.startswith(("deploy", "var", ".", "*"))]


# --- and each rule catches a violation --------------------------------------------------


def _env(doc: dict[str, Any], service: str) -> dict[str, Any]:
    """A service's own environment mapping (aliased ones are shared; change only this one)."""
    env: dict[str, Any] = dict(services(doc)[service]["environment"])
    services(doc)[service]["environment"] = env
    return env


def token_inline(doc: dict[str, Any]) -> None:
    _env(doc, "municipality-131016")["JUKINET_MUNICIPAL_API_TOKEN"] = "s3cret-token-0123456789"


def postgres_password_inline(doc: dict[str, Any]) -> None:
    _env(doc, "db-municipality-131016")["POSTGRES_PASSWORD"] = "hunter2"


def password_file_outside_secrets(doc: dict[str, Any]) -> None:
    _env(doc, "db-agency-jlis")["POSTGRES_PASSWORD_FILE"] = "/etc/passwd-for-db"


def password_in_url(doc: dict[str, Any]) -> None:
    env = _env(doc, "prefecture-130001")
    env["JUKINET_PREFECTURE_DATABASE_URL"] = (
        "postgresql://jukinet:hunter2@db-prefecture-130001:5432/jukinet"
    )


def token_in_list_form(doc: dict[str, Any]) -> None:
    service = services(doc)["agency-jlis"]
    service["environment"] = [f"{k}={v}" for k, v in service["environment"].items()]
    service["environment"].append("JUKINET_AGENCY_API_TOKEN=literal-token-0123456789")


def token_passed_through(doc: dict[str, Any]) -> None:
    service = services(doc)["agency-jlis"]
    service["environment"] = [*(f"{k}={v}" for k, v in service["environment"].items()), "API_KEY"]


def key_in_extension(doc: dict[str, Any]) -> None:
    doc["x-extra"] = {"environment": {"SIGNING_KEY": "-----BEGIN PRIVATE KEY-----"}}


def env_file(doc: dict[str, Any]) -> None:
    services(doc)["municipality-131041"]["env_file"] = ["./secrets/all.env"]


def another_nodes_keys(doc: dict[str, Any]) -> None:
    volumes = services(doc)["municipality-131016"]["volumes"]
    volumes.append("./pki/nodes/municipality.131041:/pki/nodes/municipality.131041:ro")


def another_nodes_keys_renamed(doc: dict[str, Any]) -> None:
    """The neighbour's keys, mounted where the node looks for its own."""
    service = services(doc)["municipality-142034"]
    service["volumes"] = [
        v.replace("nodes/municipality.142034:", "nodes/municipality.141003:")
        for v in service["volumes"]
    ]


def ca_key(doc: dict[str, Any]) -> None:
    services(doc)["agency-jlis"]["volumes"].append("./pki/ca:/pki/ca:ro")


def ca_key_file(doc: dict[str, Any]) -> None:
    services(doc)[NATS]["volumes"].append(
        {"type": "bind", "source": "./pki/ca/ca.key", "target": "/ca.key", "read_only": True}
    )


def whole_pki(doc: dict[str, Any]) -> None:
    services(doc)[INIT]["volumes"] = ["./pki:/pki:ro"]


def whole_project(doc: dict[str, Any]) -> None:
    services(doc)["prefecture-140007"]["volumes"].append("..:/src:ro")


def every_nodes_keys(doc: dict[str, Any]) -> None:
    services(doc)["prefecture-140007"]["volumes"].append("./pki/nodes:/pki/nodes:ro")


def keys_writable(doc: dict[str, Any]) -> None:
    service = services(doc)["prefecture-130001"]
    service["volumes"] = [v.removesuffix(":ro") for v in service["volumes"]]


def own_keys_missing(doc: dict[str, Any]) -> None:
    service = services(doc)["municipality-131041"]
    service["volumes"] = [v for v in service["volumes"] if "pki/nodes" not in v]


def no_healthcheck(doc: dict[str, Any]) -> None:
    del services(doc)["db-prefecture-140007"]["healthcheck"]


def healthcheck_disabled(doc: dict[str, Any]) -> None:
    services(doc)[NATS]["healthcheck"] = {"disable": True}


def started_not_healthy(doc: dict[str, Any]) -> None:
    depends = services(doc)["municipality-141003"]["depends_on"]
    depends["db-municipality-141003"] = {"condition": "service_started"}


def no_broker_dependency(doc: dict[str, Any]) -> None:
    del services(doc)["agency-jlis"]["depends_on"][NATS]


def list_dependencies(doc: dict[str, Any]) -> None:
    service = services(doc)["prefecture-130001"]
    service["depends_on"] = list(service["depends_on"])


def shared_database(doc: dict[str, Any]) -> None:
    env = _env(doc, "municipality-131041")
    env["JUKINET_MUNICIPAL_DATABASE_URL"] = (
        "postgresql://jukinet@db-municipality-131016:5432/jukinet"
    )


def shared_volume(doc: dict[str, Any]) -> None:
    services(doc)["db-municipality-131041"]["volumes"] = [f"db-municipality-131016:{PGDATA}"]


def no_volume(doc: dict[str, Any]) -> None:
    del services(doc)["db-agency-jlis"]["volumes"]


def database_on_bus(doc: dict[str, Any]) -> None:
    services(doc)["db-agency-jlis"]["networks"] = ["db-agency-jlis", "bus"]


def port_on_all_interfaces(doc: dict[str, Any]) -> None:
    services(doc)["agency-jlis"]["ports"] = ["8100:8000"]


def port_long_form(doc: dict[str, Any]) -> None:
    services(doc)[NATS]["ports"].append({"target": 6222, "published": 6222})


def node_missing(doc: dict[str, Any]) -> None:
    del services(doc)["municipality-142034"]


def wrong_principal(doc: dict[str, Any]) -> None:
    _env(doc, "prefecture-140007")["JUKINET_PREFECTURE_PRINCIPAL"] = (
        "spiffe://jukinet/prefecture/130001"
    )


def inline_secret_declaration(doc: dict[str, Any]) -> None:
    doc["secrets"]["agency-jlis-api-token"] = {"environment": "AGENCY_TOKEN"}


def shared_token(doc: dict[str, Any]) -> None:
    services(doc)["municipality-131041"]["secrets"][0]["source"] = "municipality-131016-api-token"


def token_where_settings_do_not_look(doc: dict[str, Any]) -> None:
    services(doc)["prefecture-130001"]["secrets"][0]["target"] = "api_token"


def lookup_server_missing(doc: dict[str, Any]) -> None:
    del services(doc)["prefecture-140007-lookups"]


def lookup_server_on_another_database(doc: dict[str, Any]) -> None:
    env = _env(doc, "agency-jlis-lookups")
    env["JUKINET_AGENCY_DATABASE_URL"] = "postgresql://jukinet@db-prefecture-130001:5432/jukinet"


def port_moved(doc: dict[str, Any]) -> None:
    services(doc)["municipality-131041"]["ports"] = ["127.0.0.1:8199:8000"]


def wrong_mayor(doc: dict[str, Any]) -> None:
    _env(doc, "municipality-142034")["JUKINET_MUNICIPAL_MAYOR"] = "横浜市長　見本　春子"


def port_clash(doc: dict[str, Any]) -> None:
    services(doc)["municipality-141003"]["ports"] = ["127.0.0.1:9100:8000"]


def renewer_on_the_network(doc: dict[str, Any]) -> None:
    del services(doc)[RENEWER]["network_mode"]
    services(doc)[RENEWER]["networks"] = ["bus"]


def renewer_missing(doc: dict[str, Any]) -> None:
    del services(doc)[RENEWER]


def reloader_missing(doc: dict[str, Any]) -> None:
    del services(doc)["nats-reloader"]


def node_in_the_brokers_namespace(doc: dict[str, Any]) -> None:
    services(doc)["agency-jlis"]["pid"] = "service:nats"


def reloader_with_keys(doc: dict[str, Any]) -> None:
    services(doc)["nats-reloader"]["volumes"].append("./pki/nodes/ops.admin:/ops:ro")


def reloader_as_a_user(doc: dict[str, Any]) -> None:
    services(doc)["nats-reloader"]["user"] = "10001:10001"


def lookups_not_waiting_for_migrations(doc: dict[str, Any]) -> None:
    services(doc)["agency-jlis-lookups"]["depends_on"] = {"nats": {"condition": "service_healthy"}}


DEMO_RULE = federation_rule(load_description(DEPLOY / "federation.toml"))


@pytest.mark.parametrize(
    ("rule", "mutate"),
    [
        (inline_secret_violations, token_inline),
        (inline_secret_violations, postgres_password_inline),
        (inline_secret_violations, password_file_outside_secrets),
        (inline_secret_violations, password_in_url),
        (inline_secret_violations, token_in_list_form),
        (inline_secret_violations, token_passed_through),
        (inline_secret_violations, key_in_extension),
        (inline_secret_violations, env_file),
        (mount_violations, another_nodes_keys),
        (mount_violations, another_nodes_keys_renamed),
        (mount_violations, ca_key),
        (mount_violations, ca_key_file),
        (mount_violations, whole_pki),
        (mount_violations, whole_project),
        (mount_violations, every_nodes_keys),
        (mount_violations, keys_writable),
        (mount_violations, own_keys_missing),
        (missing_healthchecks, no_healthcheck),
        (missing_healthchecks, healthcheck_disabled),
        (dependency_violations, started_not_healthy),
        (dependency_violations, no_broker_dependency),
        (dependency_violations, list_dependencies),
        (dependency_violations, shared_database),
        (database_volume_violations, shared_volume),
        (database_volume_violations, no_volume),
        (database_network_violations, database_on_bus),
        (port_violations, port_on_all_interfaces),
        (port_violations, port_long_form),
        (DEMO_RULE, node_missing),
        (DEMO_RULE, wrong_principal),
        (DEMO_RULE, lookup_server_missing),
        (DEMO_RULE, lookup_server_on_another_database),
        (DEMO_RULE, port_moved),
        (DEMO_RULE, wrong_mayor),
        (port_violations, port_clash),
        (renewer_violations, renewer_on_the_network),
        (renewer_violations, renewer_missing),
        (reloader_violations, reloader_missing),
        (reloader_violations, node_in_the_brokers_namespace),
        (reloader_violations, reloader_with_keys),
        (reloader_violations, reloader_as_a_user),
        (dependency_violations, lookups_not_waiting_for_migrations),
        (secret_file_violations, inline_secret_declaration),
        (secret_file_violations, shared_token),
        (node_secret_violations, token_where_settings_do_not_look),
    ],
    ids=lambda f: f.__name__,
)
def test_rule_catches(
    doc: dict[str, Any],
    rule: Callable[[dict[str, Any]], list[str]],
    mutate: Callable[[dict[str, Any]], None],
) -> None:
    broken = copy.deepcopy(doc)
    mutate(broken)
    assert rule(broken), f"{rule.__name__} missed {mutate.__name__}"
