"""The fork server starts each process as a fresh interpreter would: its own arguments,
exactly its own environment, its own session, output to its own log, nothing inherited
from the server's pipes, and an exit code and signals that reach whoever started it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jukinet.devtools.forkserver import ForkedProcess, ForkServer

CHILD = "tests.libs.devtools.forkchild"


@pytest.fixture(scope="module")
def server() -> Iterator[ForkServer]:
    server = ForkServer(preload=("json",))
    yield server
    server.close()


def report(log: Path) -> dict[str, object]:
    return dict(json.loads(log.read_text().splitlines()[0]))


def spawn(server: ForkServer, tmp_path: Path, action: str) -> tuple[ForkedProcess, Path]:
    log = tmp_path / f"{action}.log"
    env = {"FORKCHILD_VALUE": "mine", "PATH": os.environ.get("PATH", "")}
    return server.spawn(CHILD, [action, "--flag"], env, log), log


def test_a_process_sees_its_arguments_environment_and_session_alone(
    server: ForkServer, tmp_path: Path
) -> None:
    os.environ["FORKCHILD_STRANGER"] = "server's"  # set here, so only the server could leak it
    try:
        child, log = spawn(server, tmp_path, "exit")
        assert child.wait(30) == 7
    finally:
        del os.environ["FORKCHILD_STRANGER"]
    seen = report(log)
    assert seen["argv"] == ["exit", "--flag"]
    assert seen["env"] == "mine"
    assert seen["stranger"] is None
    assert seen["leader"] is True
    assert seen["stdin"] == ""  # not the server's request pipe
    assert seen["descriptors"] == []
    assert seen["name"] == "__main__"
    assert log.stat().st_mode & 0o077 == 0


def test_an_interrupt_reaches_the_process_and_its_code_comes_back(
    server: ForkServer, tmp_path: Path
) -> None:
    child, log = spawn(server, tmp_path, "wait")
    for _ in range(300):  # until it has reported (bounded)
        if log.exists() and log.read_text():
            break
        time.sleep(0.05)
    assert child.poll() is None
    child.send_signal(signal.SIGINT)
    assert child.wait(30) == 3
    assert log.read_text().splitlines()[-1] == "interrupted"


def test_a_killed_process_reports_the_signal(server: ForkServer, tmp_path: Path) -> None:
    child, _ = spawn(server, tmp_path, "wait")
    os.killpg(child.pid, signal.SIGKILL)
    assert child.wait(30) == -signal.SIGKILL
    waiting, _ = spawn(server, tmp_path, "wait")
    with pytest.raises(subprocess.TimeoutExpired):
        waiting.wait(0.1)
    os.killpg(waiting.pid, signal.SIGKILL)
    assert waiting.wait(30) == -signal.SIGKILL


def test_an_exception_is_logged_and_exits_nonzero(server: ForkServer, tmp_path: Path) -> None:
    child, log = spawn(server, tmp_path, "fail")
    assert child.wait(30) == 1
    assert "RuntimeError: deliberate" in log.read_text()


def test_the_server_refuses_what_it_does_not_know(server: ForkServer) -> None:
    with pytest.raises(RuntimeError, match="refused"):
        server._ask({"launch": {}})
