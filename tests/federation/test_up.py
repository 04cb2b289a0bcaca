"""`jukinet up` as a developer runs it, twice by mistake: the second refuses at once and
leaves the first one's state alone; a port already taken is named with what wanted it;
the state file and the printed table list the lookup servers too."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jukinet.contracts.federation import DEMO
from jukinet.devtools.localfed import free_port

pytestmark = [pytest.mark.federation, pytest.mark.timeout(300)]

JUKINET = [sys.executable, "-m", "jukinet.cli"]


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _ports() -> tuple[int, int]:
    """A base port and a broker port whose whole layout is free now."""
    for _ in range(100):  # bounded
        base, broker = free_port(), free_port()
        nodes = [base + i for i in range(len(DEMO.nodes))]
        wanted = [*nodes, *(p + 1000 for p in nodes), broker, broker + 4000]
        if len(set(wanted)) == len(wanted) and all(_free(p) for p in wanted):
            return base, broker
    raise RuntimeError("no free port layout")


def _jukinet(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*JUKINET, *args, "--home", str(home)], capture_output=True, text=True, timeout=120,
        check=False, env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, int]]:
    home = tmp_path_factory.mktemp("up")
    base, broker = _ports()
    log = (home / "up.out").open("w")
    args = [*JUKINET, "up", "--home", str(home), "--base-port", str(base),
            "--broker-port", str(broker)]  # fmt: skip
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, "COLUMNS": "200"})  # fmt: skip
    try:
        for _ in range(600):  # bounded: 120 s
            if (home / "federation.json").exists() or proc.poll() is not None:
                break
            time.sleep(0.2)
        assert (home / "federation.json").exists(), (home / "up.out").read_text()
        yield home, base
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()
    assert not (home / "federation.json").exists()


def test_the_state_and_the_table_name_the_lookup_servers(running: tuple[Path, int]) -> None:
    home, _ = running
    state = json.loads((home / "federation.json").read_text())
    assert set(state["lookup_servers"]) == {
        n.uri for n in DEMO.nodes if n.kind.value in ("agency", "prefecture")
    }
    assert all(url.startswith("https://") for url in state["lookup_servers"].values())
    printed = (home / "up.out").read_text()
    assert "lookup server" in printed
    assert "eof_received" not in printed


def test_a_second_up_refuses_and_leaves_the_first_running(running: tuple[Path, int]) -> None:
    home, _ = running
    base, broker = _ports()
    second = _jukinet("up", "--base-port", str(base), "--broker-port", str(broker), home=home)
    assert second.returncode == 1
    assert "already running" in second.stdout
    assert "Traceback" not in second.stdout + second.stderr
    assert (home / "federation.json").exists()
    status = _jukinet("status", home=home)
    assert status.returncode == 0, status.stdout + status.stderr


def test_a_taken_port_is_named_with_what_wanted_it(
    running: tuple[Path, int], tmp_path: Path
) -> None:
    _, base = running  # the first federation holds base and the ports after it
    _, broker = _ports()
    clash = _jukinet("up", "--base-port", str(base), "--broker-port", str(broker), home=tmp_path)
    assert clash.returncode == 1
    assert f"Port {base}, wanted for" in clash.stdout
    assert "is already in use" in clash.stdout
    assert "Traceback" not in clash.stdout + clash.stderr
