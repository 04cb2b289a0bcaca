"""A warm interpreter that starts a local federation's Python processes by forking.

Every node and lookup server is a new Python process, and each spent 1.5-2.5 s of CPU
importing FastAPI, SQLAlchemy, nats-py and its service before it served anything: a
federation of eleven processes cost ~18 s of CPU to start. The fork server imports those
modules once; each process it starts is a fork of it that then runs ``python -m module
args…`` with its own environment, session, log file and signals, exactly as a fresh
interpreter would (what gunicorn's ``--preload`` does for its workers). Nothing runs in
the fork server but imports: no thread, event loop, socket or database connection exists
when it forks.

The protocol is one JSON object a line on the server's stdin and stdout:
``{"spawn": {...}}`` answers ``{"pid": n}``; ``{"poll": n}`` answers ``{"returncode": c}``
(``null`` while it runs). The server is the processes' parent and reaps them; it exits at
the end of its input, leaving its processes to whoever stops them.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import json
import os
import runpy
import signal
import subprocess
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

__all__ = ["ForkServer", "ForkedProcess", "fork_server"]

PRELOAD = (
    "uvicorn.main",
    "municipal.app",
    "prefecture.app",
    "agency.app",
    "prefecture.lookup_server",
    "agency.lookup_server",
)


class ForkServer:
    """The client side: a fork server process and the pipe to it."""

    def __init__(self, preload: tuple[str, ...] = PRELOAD) -> None:
        self._lock = threading.Lock()
        self._proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", __name__, *preload],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )

    def _pipes(self) -> tuple[IO[bytes], IO[bytes]]:
        if self._proc.stdin is None or self._proc.stdout is None:
            raise RuntimeError("the fork server was started without pipes")
        return self._proc.stdin, self._proc.stdout

    def _ask(self, request: dict[str, Any]) -> dict[str, Any]:
        requests, answers = self._pipes()
        with self._lock:
            requests.write(json.dumps(request).encode() + b"\n")
            requests.flush()
            line = answers.readline()
        if not line:
            raise RuntimeError("the fork server exited")
        answer: dict[str, Any] = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"the fork server refused: {answer['error']}")
        return answer

    @property
    def alive(self) -> bool:
        return self._proc.poll() is None

    def spawn(self, module: str, args: list[str], env: dict[str, str], log: Path) -> ForkedProcess:
        """Start ``python -m module *args`` with exactly ``env``, output appended to ``log``,
        in a session of its own."""
        request = {"module": module, "args": args, "env": env, "log": str(log)}
        pid = int(self._ask({"spawn": request})["pid"])
        return ForkedProcess(pid, self)

    def returncode(self, pid: int) -> int | None:
        code = self._ask({"poll": pid})["returncode"]
        return None if code is None else int(code)

    def close(self) -> None:
        if self._proc.poll() is None:
            for pipe in self._pipes():
                pipe.close()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(10)


@dataclass
class ForkedProcess:
    """What :class:`subprocess.Popen` offers that a local federation uses."""

    pid: int
    server: ForkServer
    returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self.returncode = self.server.returncode(self.pid)
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, sig)

    def wait(self, timeout: float) -> int:
        for _ in range(max(1, int(timeout / 0.02))):  # bounded, like Popen.wait's own loop
            code = self.poll()
            if code is not None:
                return code
            time.sleep(0.02)
        raise subprocess.TimeoutExpired(str(self.pid), timeout)


_server: ForkServer | None = None
_server_lock = threading.Lock()


def fork_server() -> ForkServer:
    """This process's fork server, started on first use and closed at exit."""
    global _server
    with _server_lock:
        if _server is None or not _server.alive:
            _server = ForkServer()
            atexit.register(_server.close)
        return _server


# The server side.


def _run_child(request: dict[str, Any], started: int) -> None:
    """In the forked child: become ``python -m module args`` and never return. Writing to
    ``started`` tells the server that the session exists (so it can be signalled)."""
    code = 1
    try:
        os.setsid()
        os.write(started, b"+")
        signal.signal(signal.SIGINT, signal.default_int_handler)
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.closerange(3, 1 << 16)
        os.environ.clear()
        os.environ.update(request["env"])
        sys.argv = [request["module"], *request["args"]]
        runpy.run_module(request["module"], run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # reported in the process's own log, then exit 1
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):  # a closed log is no reason not to exit
                stream.flush()
        os._exit(code)


def _fork(request: dict[str, Any], answers: IO[str]) -> int:
    """Fork a child for ``request``; return once it leads a session of its own."""
    answers.flush()
    ready, started = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(ready)
        _run_child(request, started)
    os.close(started)
    try:
        os.read(ready, 1)  # b"" if the child died first: its code is there to poll
    finally:
        os.close(ready)
    return pid


def _serve(preload: list[str], requests: IO[str], answers: IO[str]) -> None:
    for module in preload:
        importlib.import_module(module)
    exited: dict[int, int] = {}
    for line in requests:
        while True:  # reap whatever has exited, keeping its code for the next poll
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            exited[pid] = os.waitstatus_to_exitcode(status)
        request = json.loads(line)
        answer: dict[str, Any]
        if "spawn" in request:
            answer = {"pid": _fork(request["spawn"], answers)}
        elif "poll" in request:
            answer = {"returncode": exited.get(int(request["poll"]))}
        else:
            answer = {"error": "unknown request"}
        answers.write(json.dumps(answer) + "\n")
        answers.flush()


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the federation's owner
    _serve(sys.argv[1:], sys.stdin, sys.stdout)
