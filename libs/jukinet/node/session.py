"""The request's database transaction, as FastAPI dependencies."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from jukinet.node.state import StateDep

__all__ = ["FailureHook", "SessionDep", "Transaction", "TransactionDep"]

FailureHook = Callable[[Exception], Awaitable[None]]


class Transaction:
    """The request is the transaction: it commits when the handler returns (before the
    response is sent, so a failed commit is never reported as success) and rolls back
    when anything raises — the handler, a dependency, the validation of the request or
    the commit itself. What must outlive a rollback (the operation-log entry of a refused
    or failed action) registers a hook; hooks run once the rollback is done and the
    connection is back, with the exception, before it goes on to the problem handlers."""

    def __init__(self, session: AsyncSession, hooks: list[FailureHook]) -> None:
        self.session = session
        self._hooks = hooks

    def on_failure(self, hook: FailureHook) -> None:
        self._hooks.append(hook)


async def _transaction(state: StateDep) -> AsyncIterator[Transaction]:
    hooks: list[FailureHook] = []
    try:
        async with state.sessions() as session, session.begin():
            yield Transaction(session, hooks)
    except Exception as exc:
        for hook in hooks:
            await hook(exc)
        raise
    state.runtime.notify_outbox()


async def _session(transaction: TransactionDep) -> AsyncSession:
    return transaction.session


TransactionDep = Annotated[Transaction, Depends(_transaction, scope="function")]
SessionDep = Annotated[AsyncSession, Depends(_session)]
