"""asyncio's warning about nats-py's upgraded TLS stream is dropped once a node connects;
every other asyncio message still goes through."""

from __future__ import annotations

import logging

import pytest

from jukinet.bus._connect import _quiet_eof


def _record(message: str) -> logging.LogRecord:
    return logging.LogRecord("asyncio", logging.WARNING, __file__, 1, message, None, None)


def test_only_the_start_tls_eof_warning_is_dropped(caplog: pytest.LogCaptureFixture) -> None:
    asyncio_log = logging.getLogger("asyncio")
    asyncio_log.addFilter(_quiet_eof)
    try:
        with caplog.at_level(logging.WARNING, logger="asyncio"):
            asyncio_log.warning("returning true from eof_received() has no effect when using ssl")
            asyncio_log.warning("Task was destroyed but it is pending!")
    finally:
        asyncio_log.removeFilter(_quiet_eof)
    assert [r.getMessage() for r in caplog.records] == ["Task was destroyed but it is pending!"]
    assert _quiet_eof.filter(_record("Executing <Task> took 0.2 seconds"))
