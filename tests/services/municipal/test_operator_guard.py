"""The guard and the request's operation-log entry, in process (the municipal app on a
migrated SQLite database, its broker unreachable): an action that passes is logged in
the request's own transaction; one that is refused, fails validation, or whose handler
raises or answers a refusal is logged after the rollback with its status; a request
without credentials is only counted. The chain stays intact throughout."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from jukinet.node.state import NodeState, NotRunning, state_of
from jukinet.operators import OPERATORS, OperatorTables, verify_operations
from jukinet.pki import PkiLayout
from municipal.app import create_app
from municipal.models import Base
from municipal.settings import MunicipalSettings
from tests.principals import HIRATSUKA

pytestmark = pytest.mark.asyncio(loop_scope="session")

TOKEN = "t" * 32
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TABLES = OperatorTables.of(Base.metadata)


@dataclass
class Node:
    app: FastAPI
    client: httpx.AsyncClient

    @property
    def state(self) -> NodeState:
        return state_of(self.app)

    async def log(self) -> list[tuple[str, str, str | None, str]]:
        t = TABLES.operation_log
        async with self.state.sessions() as session:
            rows = await session.execute(
                select(t.c.actor, t.c.action, t.c.target, t.c.outcome).order_by(t.c.seq)
            )
            return [(r.actor, r.action, r.target, r.outcome) for r in rows]


@pytest.fixture(scope="module")
async def node(layout: PkiLayout, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Node]:
    db = tmp_path_factory.mktemp("guard") / "town.db"
    settings = MunicipalSettings(
        principal=HIRATSUKA.uri,
        pki_root=layout.root,
        database_url=f"sqlite:///{db}",
        api_token=TOKEN,
        nats_servers=["tls://127.0.0.1:1"],  # unreachable: retried in the background
        checkpoint_seconds=0,
        code_pool_check_seconds=3600,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://town") as client:
            yield Node(app, client)


async def logged_after(node: Node, before: int) -> list[tuple[str, str, str | None, str]]:
    entries = await node.log()
    return entries[before:]


async def test_an_action_that_passes_is_logged_ok(node: Node) -> None:
    before = len(await node.log())
    assert (await node.client.get("/status", headers=AUTH)).status_code == 200
    assert await logged_after(node, before) == [("system", "operations", None, "ok")]


async def test_no_credentials_are_counted_not_chained(node: Node) -> None:
    before = len(await node.log())
    assert (await node.client.get("/status")).status_code == 401
    wrong = {"Authorization": "Bearer " + "x" * 32}
    assert (await node.client.get("/status", headers=wrong)).status_code == 401
    assert await logged_after(node, before) == []
    counted = node.state.metrics.registry.get_sample_value(
        "jukinet_anonymous_failures_total", {"kind": "no_credentials"}
    )
    assert counted is not None
    assert counted >= 2


async def test_a_role_without_the_action_is_refused_and_logged(node: Node) -> None:
    before = len(await node.log())
    body = {"name": "x", "birth_date": "1980-04-01", "home": "131016"}
    response = await node.client.post("/copies", json=body, headers=AUTH)  # clerks only
    assert response.status_code == 403
    assert await logged_after(node, before) == [("system", "copies.issue", None, "refused:403")]


async def test_a_handler_that_raises_is_logged_with_its_status_and_target(node: Node) -> None:
    before = len(await node.log())
    unknown = secrets.token_hex(16)
    assert (await node.client.get(f"/residents/{unknown}", headers=AUTH)).status_code == 404
    malformed = await node.client.get("/residents/%E5%B1%B1%E7%94%B0", headers=AUTH)
    assert malformed.status_code == 404
    assert await logged_after(node, before) == [
        ("system", "residents.read", unknown, "failed:404"),
        ("system", "residents.read", "(malformed)", "failed:404"),
    ]


async def test_an_invalid_request_is_logged_as_failed(node: Node) -> None:
    before = len(await node.log())
    response = await node.client.post("/residents", json={"name": "x"}, headers=AUTH)
    assert response.status_code == 422
    assert await logged_after(node, before) == [("system", "residents.write", None, "failed:422")]


async def test_a_refusal_the_handler_answers_is_logged_as_failed(node: Node) -> None:
    before = len(await node.log())
    response = await node.client.post(
        "/residents/import",
        content=b"not,a,register\n",
        headers={**AUTH, "Content-Type": "text/csv"},
    )
    assert response.status_code == 422
    assert await logged_after(node, before) == [("system", "residents.bulk", None, "failed:422")]


async def test_the_chain_stays_intact(node: Node) -> None:
    async with node.state.sessions() as session:
        key = OPERATORS.of(node.app).key
        report = await verify_operations(session, TABLES, [key.public_key()])
    assert report.intact
    assert report.checked == len(await node.log()) > 0


async def test_there_is_no_state_before_the_lifespan() -> None:
    with pytest.raises(NotRunning):
        state_of(FastAPI())
