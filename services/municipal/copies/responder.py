"""The home municipality's listener for copy requests, kept subscribed for the life of
the service.

The runtime connects to the broker in the background (``runtime.nc`` is None until then)
and replaces the connection when the node's credentials roll over; nats-py itself
resubscribes after a reconnect of the same connection. So the listener watches
``runtime.nc`` and subscribes again whenever it is a different, connected client.

Requests are handled one at a time, in arrival order (nats-py awaits the callback): a
copy is asked for by a clerk with a resident at the counter, so the rate is low and a
bound on concurrent database work is worth more than parallelism.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from nats.aio.client import Client
from nats.aio.msg import Msg

from jukinet.contracts.subjects import copy_requests_to
from jukinet.node.runtime import NodeRuntime
from municipal.copies.home import HomeContext, Unanswerable, answer_request
from municipal.copies.protocol import ANSWER_TTL, COPY_ANSWER, sequence_now
from municipal.copies.settings import CopySettings

__all__ = ["QUEUE", "CopyResponder", "start_copy_responder"]

log = logging.getLogger("jukinet.municipal.copies")
QUEUE = "copies"  # replicas of one municipality's service share the requests


class CopyResponder:
    def __init__(self, runtime: NodeRuntime, home: HomeContext, *, every: float = 0.5) -> None:
        self._runtime = runtime
        self._home = home
        self._every = every
        self._subscribed: Client | None = None

    async def run(self) -> None:
        """Subscribe on every new connection; never returns (cancel it to stop)."""
        while True:
            nc = self._runtime.nc
            if nc is not None and nc is not self._subscribed and nc.is_connected:
                try:
                    await nc.subscribe(copy_requests_to(self._home.node), QUEUE, self._on_request)
                    self._subscribed = nc
                    log.info("listening for copy requests", extra={"node": self._home.node.code})
                except Exception as exc:  # closed under us: try the next connection
                    log.warning("copy listener not subscribed: %s", type(exc).__name__)
            await asyncio.sleep(self._every)

    async def _on_request(self, msg: Msg) -> None:
        """Answer one request; never raises (nats-py would only report it to error_cb)."""
        try:
            audience, answer = await answer_request(
                self._home, self._runtime.opener, msg.subject, msg.reply, msg.data
            )
            sealed = self._runtime.sealer.seal(
                audience=audience,
                type=COPY_ANSWER,
                payload=answer.model_dump(mode="json", exclude_none=True),
                sequence=sequence_now(),
                ttl=ANSWER_TTL,
            )
            await msg.respond(sealed.token.encode())
        except Unanswerable as exc:
            log.warning("copy request dropped: %s", exc)
        except Exception as exc:
            log.error("copy answer not sent: %s", type(exc).__name__)


async def start_copy_responder(runtime: NodeRuntime) -> Callable[[], object]:
    """Start answering copy requests; return what stops it. Fails at start, not at the
    first request, when this municipality has no issuer name and mayor configured."""
    issuer = CopySettings().issuer(runtime.node)
    key, _ = runtime.settings.credentials().require_signing()
    home = HomeContext(runtime.node, runtime.sessions, issuer.name, key)
    task = asyncio.create_task(CopyResponder(runtime, home).run(), name="copies")
    return task.cancel
