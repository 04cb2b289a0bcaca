"""The request's database transaction, as a FastAPI dependency."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["SessionDep"]


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request is the transaction: commit when the handler returns (before the
    response is sent, so a failed commit is never reported as success), roll back when
    it raises; then wake the outbox relay."""
    async with request.app.state.sessions() as session, session.begin():
        yield session
    request.state.audit = None  # committed: the guard's "ok" entry stands
    runtime = getattr(request.app.state, "runtime", None)
    if runtime is not None:
        runtime.notify_outbox()


SessionDep = Annotated[AsyncSession, Depends(_session, scope="function")]
