"""The typed state of a running app: what its lifespan builds and its request
dependencies read — one typed object per layer (the node's here, the operators' in
``jukinet.operators``), each in its own slot, checked on every read.

Handlers never reach into ``app.state``; they declare what they need::

    async def handler(runtime: RuntimeDep, node: NodeDep, session: SessionDep) -> ...
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from jukinet.contracts.principals import Principal
from jukinet.node.metrics import Metrics
from jukinet.node.runtime import NodeRuntime

__all__ = [
    "NODE",
    "AppSlot",
    "NodeDep",
    "NodeState",
    "NotRunning",
    "RuntimeDep",
    "StateDep",
    "node_state",
    "state_of",
]

T = TypeVar("T")


class NotRunning(RuntimeError):
    """The app's lifespan has not started (or has ended): there is no state to read."""


class AppSlot(Generic[T]):
    """One typed value an app keeps while it runs: put there by its lifespan, read by its
    dependencies. The only code that touches ``app.state``."""

    def __init__(self, name: str, kind: type[T]) -> None:
        self._name = name
        self._kind = kind

    def put(self, app: Starlette, value: T | None) -> None:
        setattr(app.state, self._name, value)

    def of(self, app: Starlette) -> T:
        value = getattr(app.state, self._name, None)
        if not isinstance(value, self._kind):
            raise NotRunning(f"no {self._kind.__name__}: the app is not running")
        return value


@dataclass(frozen=True)
class NodeState:
    """A running node: its runtime (settings, database, bus, keys, metrics) and what a
    service keeps beside it (:meth:`kept`)."""

    runtime: NodeRuntime
    _kept: dict[type[object], object] = field(default_factory=dict, repr=False)

    @property
    def node(self) -> Principal:
        return self.runtime.node

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        return self.runtime.sessions

    @property
    def metrics(self) -> Metrics:
        return self.runtime.metrics

    def kept(self, kind: type[T], make: Callable[[], T]) -> T:
        """A service's own object of ``kind``: made on first use, then kept while the
        node runs (never at import time)."""
        found = self._kept.get(kind)
        if not isinstance(found, kind):
            found = self._kept[kind] = make()
        return found


NODE: AppSlot[NodeState] = AppSlot("node", NodeState)


def state_of(app: Starlette) -> NodeState:
    """The state of a running node app (for code outside a request: tests, metrics)."""
    return NODE.of(app)


# The dependencies are coroutines: FastAPI would run plain functions in worker threads.
async def node_state(request: Request) -> NodeState:
    return NODE.of(request.app)


async def _runtime(state: StateDep) -> NodeRuntime:
    return state.runtime


async def _node(state: StateDep) -> Principal:
    return state.node


StateDep = Annotated[NodeState, Depends(node_state)]
RuntimeDep = Annotated[NodeRuntime, Depends(_runtime)]
NodeDep = Annotated[Principal, Depends(_node)]  # this node's principal
