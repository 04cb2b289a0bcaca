"""`jukinet deploy`: a deployment rendered from its federation description, a
municipality added with one command, the renewer's pass and the broker reloader — on real
files, keys and processes (the clock is the one thing moved: renewal is shown by asking
for it from a day close to expiry)."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from jukinet.cli import app
from jukinet.contracts.principals import Principal
from jukinet.deploy import (
    DeployDir,
    NoCertificateAuthority,
    ca_expiry,
    load_description,
    renew_deployment,
)
from jukinet.pki import fingerprint, read_certificate, utcnow

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
runner = CliRunner()
BUNKYO = Principal.municipality("131059")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> DeployDir:
    """The demo description, rendered once into an empty directory."""
    root = tmp_path_factory.mktemp("deploy")
    shutil.copy(DEPLOY / "federation.toml", root / "federation.toml")
    result = runner.invoke(app, ["deploy", "render", "--dir", str(root)])
    assert result.exit_code == 0, result.output
    return DeployDir(root)


def _copy(rendered: DeployDir, tmp_path: Path) -> DeployDir:
    shutil.copytree(rendered.root, tmp_path / "deploy")
    return DeployDir(tmp_path / "deploy")


def test_a_new_deployment_gets_everything_it_needs(rendered: DeployDir) -> None:
    deployment = rendered.load()
    assert rendered.compose.read_text() == (DEPLOY / "compose.yaml").read_text()
    for node in deployment.federation.principals:
        assert (rendered.pki.node_dir(node) / "tls.crt").exists(), node.uri
    for node in deployment.serving:  # standard clients verify the lookup servers
        https = read_certificate(rendered.pki.node_dir(node) / "https.crt")
        names = str(https.extensions.get_extension_for_oid(
            __import__("cryptography.x509", fromlist=["oid"]).oid.ExtensionOID.SUBJECT_ALTERNATIVE_NAME
        ).value)  # fmt: skip
        assert "localhost" in names
        assert "127.0.0.1" in names
    for path in rendered.secrets.iterdir():
        assert path.stat().st_mode & 0o077 == 0, f"{path.name} is readable by others"
    assert {p.name for p in rendered.permissions.iterdir()} == {
        "agency.jlis.toml", "prefecture.130001.toml", "prefecture.140007.toml",
    }  # fmt: skip
    conf = json.loads((rendered.broker / "nats.conf").read_text())
    assert len(conf["tls"]["pinned_certs"]) == len(deployment.federation.nodes) + 1  # + ops
    assert conf["tls"]["cert_file"] == "/pki/nodes/broker/tls.crt"
    clustered = json.loads((rendered.broker / "nats-2.conf").read_text())
    assert clustered["cluster"]["routes"] == [
        "nats-route://nats:6222", "nats-route://nats-3:6222",
    ]  # fmt: skip


def test_rendering_again_changes_nothing(rendered: DeployDir, tmp_path: Path) -> None:
    copy = _copy(rendered, tmp_path)
    before = {p: p.read_bytes() for p in copy.root.rglob("*") if p.is_file()}
    result = runner.invoke(app, ["deploy", "render", "--dir", str(copy.root)])
    assert result.exit_code == 0
    assert "nothing to change" in result.output
    assert {p: p.read_bytes() for p in copy.root.rglob("*") if p.is_file()} == before


def test_adding_a_municipality_is_one_command(rendered: DeployDir, tmp_path: Path) -> None:
    copy = _copy(rendered, tmp_path)
    ports_before = copy.load().http_ports()
    keys_before = (copy.pki.node_dir(Principal.municipality("142034")) / "sign.key").read_bytes()
    result = runner.invoke(app, [
        "deploy", "add-municipality", "131059", "--name", "文京区",
        "--mayor", "文京区長　見本　夏子", "--dir", str(copy.root),
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "municipality-131059" in result.output

    deployment = copy.load()
    assert deployment.municipalities[-1].code == BUNKYO.code
    assert {n: p for n, p in deployment.http_ports().items() if n != BUNKYO} == ports_before
    assert (copy.pki.node_dir(BUNKYO) / "tls.crt").exists()
    assert (copy.secrets / "municipality.131059.api-token").exists()
    doc = yaml.safe_load(copy.compose.read_text())
    town = doc["services"]["municipality-131059"]
    assert town["ports"] == ["127.0.0.1:8107:8000"]
    assert town["environment"]["JUKINET_MUNICIPAL_ISSUER_NAME"] == "文京区"
    assert "db-municipality-131059" in doc["services"]
    conf = json.loads((copy.broker / "nats.conf").read_text())
    users = [u["user"] for a in conf["accounts"].values() for u in a.get("users", [])]
    assert any("municipality/131059" in u for u in users)
    # nobody else's keys were touched
    assert (
        copy.pki.node_dir(Principal.municipality("142034")) / "sign.key"
    ).read_bytes() == keys_before


@pytest.mark.parametrize(
    ("code", "says"),
    [
        ("131058", "check digit"),
        ("142034", "listed 2 times"),
        ("011002", "prefecture 010006 is not in the description"),
    ],
    ids=["bad-check-digit", "already-there", "prefecture-missing"],
)
def test_a_municipality_that_cannot_be_added_changes_nothing(
    rendered: DeployDir, tmp_path: Path, code: str, says: str
) -> None:
    copy = _copy(rendered, tmp_path)
    before = copy.description.read_text()
    result = subprocess.run(
        [sys.executable, "-m", "jukinet.cli", "deploy", "add-municipality", code,
         "--name", "見本市", "--mayor", "見本市長", "--dir", str(copy.root)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    said = result.stdout + result.stderr
    assert result.returncode == 1
    assert "Traceback" not in said
    assert says in said, said
    assert copy.description.read_text() == before
    assert not (copy.pki.node_dir(Principal.municipality("142034")).parent / code).exists()


def test_without_the_ca_key_new_credentials_are_refused_clearly(
    rendered: DeployDir, tmp_path: Path
) -> None:
    copy = _copy(rendered, tmp_path)
    shutil.rmtree(copy.pki.ca_dir)
    before = copy.description.read_text()
    result = runner.invoke(app, [
        "deploy", "add-municipality", "131059", "--name", "文京区", "--mayor", "文京区長",
        "--dir", str(copy.root),
    ])  # fmt: skip
    assert result.exit_code == 1
    assert "the CA key is not in" in result.output
    assert copy.description.read_text() == before  # nothing changed: it can be run again
    assert not copy.pki.node_dir(BUNKYO).exists()


def test_the_renewer_reissues_what_expires_soon_and_repins_the_broker(
    rendered: DeployDir, tmp_path: Path
) -> None:
    copy = _copy(rendered, tmp_path)
    hiratsuka = copy.pki.node_dir(Principal.municipality("142034"))
    old = read_certificate(hiratsuka / "tls.crt")
    pins_before = json.loads((copy.broker / "nats.conf").read_text())["tls"]["pinned_certs"]

    assert renew_deployment(copy) == []  # 7-day certificates, renewal 3 days before

    later = utcnow() + dt.timedelta(days=5)
    renewed = renew_deployment(copy, now=later)
    assert Principal.municipality("142034").uri in renewed
    assert "the broker" in renewed
    new = read_certificate(hiratsuka / "tls.crt")
    assert fingerprint(new) != fingerprint(old)
    assert new.not_valid_after_utc > later + dt.timedelta(days=1)
    pins = json.loads((copy.broker / "nats.conf").read_text())["tls"]["pinned_certs"]
    assert pins != pins_before
    assert len(pins) == len(pins_before)
    https = read_certificate(copy.pki.node_dir(Principal.prefecture("130001")) / "https.crt")
    assert "prefecture-130001-lookups" in str(https.extensions)


def test_the_reloader_signals_the_broker_when_its_files_change(tmp_path: Path) -> None:
    """A real process in the broker's place: it exits when it receives SIGHUP."""
    conf = tmp_path / "nats.conf"
    conf.write_text("{}")
    heard = tmp_path / "heard"
    broker = subprocess.Popen([
        sys.executable, "-c",
        "import signal, sys, time, pathlib\n"
        f"signal.signal(signal.SIGHUP, lambda *_: (pathlib.Path({str(heard)!r}).touch(), "
        "sys.exit(0)))\n"
        "print('ready', flush=True)\n"
        "for _ in range(1200): time.sleep(0.1)\n",
    ], stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert broker.stdout is not None
    assert broker.stdout.readline().strip() == "ready"
    env = {**os.environ, "JUKINET_HEARTBEAT": str(tmp_path / "beat")}
    reloader = subprocess.Popen(
        [sys.executable, "-m", "jukinet.cli", "deploy", "reloader", "--pid", str(broker.pid),
         "--watch", str(conf), "--every", "0.2"],
        env=env,
    )  # fmt: skip
    try:
        for _ in range(600):  # bounded: until the reloader has read the files once
            if (tmp_path / "beat").exists():
                break
            time.sleep(0.1)
        assert broker.poll() is None, "reloaded before anything changed"
        conf.write_text('{"changed": true}')
        assert broker.wait(timeout=60) == 0
        assert heard.exists()
    finally:
        reloader.send_signal(signal.SIGTERM)
        reloader.wait(timeout=30)
        if broker.poll() is None:
            broker.kill()
            broker.wait()
        broker.stdout.close()
    assert reloader.returncode == 0


def test_the_description_is_checked_when_read(tmp_path: Path) -> None:
    bad = tmp_path / "federation.toml"
    text = (DEPLOY / "federation.toml").read_text()
    bad.write_text(text.replace("lookup_port = 9100", "lookup_port = 8102"))
    result = runner.invoke(app, ["deploy", "render", "--dir", str(tmp_path)])
    assert result.exit_code != 0
    with pytest.raises(ValueError, match="overlap lookup ports"):
        load_description(bad)


def test_an_operator_is_created_inside_the_deployment(rendered: DeployDir, tmp_path: Path) -> None:
    """As `docker compose run pki-renewer jukinet operators issue-card …` and then
    `docker compose run municipality-142034 jukinet operators create …`: the card is
    issued where the CA is; the node, which sees only its own keys and the public
    directory, registers it with what its own environment names."""
    copy = _copy(rendered, tmp_path)
    hiratsuka = Principal.municipality("142034")
    issued = _jukinet(
        "operators", "issue-card", "clerk1", "--node", hiratsuka.uri,
        "--pki-root", str(copy.pki.root),
    )  # fmt: skip
    assert issued.returncode == 0, issued.stderr
    card = issued.stdout.split("--cert ")[1].strip()

    # the node's view: no CA directory, its own keys, the public directory
    node_pki = tmp_path / "node-pki"
    (node_pki / "nodes").mkdir(parents=True)
    shutil.copy(copy.pki.ca_cert, node_pki / "ca.crt")
    shutil.copytree(copy.pki.directory, node_pki / "directory")
    shutil.copytree(copy.pki.node_dir(hiratsuka), node_pki / "nodes" / hiratsuka.slug)
    db = f"sqlite:///{tmp_path / 'town.db'}"
    assert _jukinet("db", "upgrade", "municipal", "--url", db).returncode == 0
    env = {
        "JUKINET_MUNICIPAL_PRINCIPAL": hiratsuka.uri,
        "JUKINET_MUNICIPAL_DATABASE_URL": db,
        "JUKINET_MUNICIPAL_PKI_ROOT": str(node_pki),
        "JUKINET_OPERATOR_PASSWORD": "correct horse battery",
    }
    created = _jukinet(
        "operators", "create", "clerk1", "--role", "clerk", "--cert", str(node_pki / card),
        env=env,
    )  # fmt: skip
    assert created.returncode == 0, created.stdout + created.stderr
    assert "operator/142034/clerk1 created (clerk)" in created.stdout
    listed = _jukinet("operators", "list", env=env)
    assert "clerk1" in listed.stdout


def _jukinet(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("JUKINET_")}
    return subprocess.run(
        [sys.executable, "-m", "jukinet.cli", *args], capture_output=True, text=True,
        timeout=120, check=False, env={**base, **(env or {})}, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def test_the_renewer_needs_the_ca_key_only_when_something_is_due(
    rendered: DeployDir, tmp_path: Path
) -> None:
    """The CA key may be brought in for renewals alone: a pass with nothing due does not
    read it; one with something due and no key says so and renews nothing."""
    copy = _copy(rendered, tmp_path)
    shutil.rmtree(copy.pki.ca_dir)
    assert renew_deployment(copy) == []
    with pytest.raises(NoCertificateAuthority):
        renew_deployment(copy, now=utcnow() + dt.timedelta(days=5))
    assert ca_expiry(copy) > utcnow()
