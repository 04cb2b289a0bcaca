"""aiosqlite's connection, run on the event loop's own thread.

aiosqlite hands every call — each cursor, execute, fetch and commit — to a worker
thread and wakes the loop when it is done: about sixty thread hops for one
registration, which cost more CPU than the SQL itself. With WAL and
``synchronous=NORMAL`` a commit does not wait for the disk, and a node has one SQLite
connection (its engine's pool serialises the process's transactions), so the calls are
made in place instead: each returns at once, as an awaitable that is already done.

The price: a statement holds the event loop while it runs, and so does waiting for the
file's write lock while another process (the lookup server, a CLI command) commits.
Both are short on SQLite's scale; PostgreSQL, the production engine, is unaffected.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import aiosqlite

__all__ = ["InlineConnection", "inline_connect"]


class _InPlace:
    """Stands in for aiosqlite's queue to its worker thread: runs each call at once."""

    def put_nowait(self, item: tuple[asyncio.Future[Any] | None, Callable[[], Any]]) -> None:
        future, function = item
        try:
            result = function()
        except BaseException as exc:  # handed to the waiting caller, as the thread would
            if future is not None and not future.done():
                future.set_exception(exc)
            return
        if future is not None and not future.done():
            future.set_result(result)


class InlineConnection(aiosqlite.Connection):
    """An :class:`aiosqlite.Connection` whose calls run on the calling thread."""

    def __init__(self, connector: Callable[[], sqlite3.Connection], iter_chunk_size: int) -> None:
        super().__init__(connector, iter_chunk_size)  # its worker thread is never started
        self._tx = _InPlace()  # type: ignore[assignment]

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)

    async def _connect(self) -> InlineConnection:
        if self._connection is None:
            self._connection = self._connector()
        return self

    def __await__(self) -> Generator[Any, None, InlineConnection]:
        return self._connect().__await__()

    def stop(self) -> asyncio.Future[Any] | None:
        self._running = False
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        return None


def inline_connect(
    database: str | Path, *, iter_chunk_size: int = 64, **kwargs: Any
) -> InlineConnection:
    """What ``aiosqlite.connect`` returns, without the thread (``kwargs`` go to
    :func:`sqlite3.connect`)."""
    return InlineConnection(lambda: sqlite3.connect(str(database), **kwargs), iter_chunk_size)
