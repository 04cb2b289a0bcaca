"""Hostile input that needs no impersonated town and stops no node, on the shared
federation (test_hostile has the rest): the operations identity cannot make a stream
republish to it, and an item that cannot be sealed is set aside while everything else
flows on."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import sys
from pathlib import Path
from typing import Any

import nats.errors
import pytest
from nats.aio.msg import Msg

from jukinet.contracts.ids import generate_resident_code
from jukinet.contracts.principals import Principal, PrincipalKind
from jukinet.contracts.subjects import inbox_prefix, stream_name
from jukinet.devtools.localfed import LocalFederation
from jukinet.devtools.synthetic import SyntheticResidents
from jukinet.pki import CertificateAuthority
from tests.federation.consumer_attacks import party
from tests.federation.support import PersonalData, a_change_flows, eventually, query
from tests.principals import CHIYODA, TOKYO

pytestmark = [pytest.mark.federation, pytest.mark.asyncio(loop_scope="session")]

# a real town outside the federation, this module's alone: its certificate is issued at
# the end of the set-aside test, for the whole session
SAPPORO_CHUO = Principal.municipality("011011")  # 札幌市中央区
UNDELIVERABLE = "no_recipient_certificate"


async def test_operations_identity_reads_no_message(
    federation: LocalFederation, personal_data: PersonalData
) -> None:
    """The operations identity tries to make 東京都's stream republish to it, by update
    and by creating it again; the definition stays, a real change still reaches 東京都,
    and nothing reaches the operations identity."""
    ops_principal = Principal(PrincipalKind.OPS, federation.federation.ops[0])
    spy = f"{inbox_prefix(ops_principal)}.spy"
    stream = stream_name(TOKYO)
    body = {
        "name": stream,
        "subjects": [f"jukinet.msg.{TOKYO.code}.*"],
        "num_replicas": 1,
        "republish": {"src": ">", "dest": f"{spy}.>"},
    }
    async with party(federation, ops_principal) as ops:
        got: list[Msg] = []

        async def keep(msg: Msg) -> None:
            got.append(msg)

        sub = await ops.nc.subscribe(f"{spy}.>", cb=keep)
        before = (await ops.js.stream_info(stream)).config
        for verb in ("UPDATE", "CREATE"):
            with contextlib.suppress(nats.errors.TimeoutError):  # refused by the broker
                answer = await ops.nc.request(
                    f"$JS.API.STREAM.{verb}.{stream}", json.dumps(body).encode(), timeout=2
                )
                assert "error" in json.loads(answer.data)
        assert (await ops.js.stream_info(stream)).config == before

        await a_change_flows(federation, CHIYODA, TOKYO, personal_data)

        await ops.nc.flush(timeout=20)
        assert got == []
        await sub.unsubscribe()


def move_in_from_sapporo(people: SyntheticResidents, pd: PersonalData) -> dict[str, Any]:
    body = people.registration(CHIYODA.code, reason="move_in")
    body |= {
        "previous_municipality": SAPPORO_CHUO.code,
        "previous_address": "北海道札幌市中央区北一条西二丁目1番地",
        "resident_code": generate_resident_code(),
    }
    pd.add_body(body)
    pd.add(body["previous_address"])
    return body


async def chiyoda_status(fed: LocalFederation) -> dict[str, Any]:
    async with fed.client(CHIYODA) as client:
        r = await client.get("/status")
    r.raise_for_status()
    return dict(r.json())


async def outbox_cli(fed: LocalFederation, *args: str) -> str:
    """`jukinet outbox ARGS --node chiyoda --url …`, as an operator would run it."""
    env = {**os.environ, "JUKINET_API_TOKEN": fed.api_token, "COLUMNS": "200"}
    proc = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).with_name("jukinet")), "outbox", *args,
        "--node", CHIYODA.uri, "--url", fed.nodes[CHIYODA].url,
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await proc.communicate()
    assert proc.returncode == 0, out.decode()
    return out.decode()


async def undeliverable(fed: LocalFederation) -> list[dict[str, Any]]:
    """Chiyoda's set-aside items for this module's town."""
    async with fed.client(CHIYODA) as client:
        r = await client.get("/outbox/undeliverable")
    r.raise_for_status()
    return [item for item in r.json() if item["recipient"] == SAPPORO_CHUO.uri]


async def test_an_item_that_cannot_be_sealed_is_set_aside_and_nothing_else_waits(
    federation: LocalFederation, personal_data: PersonalData
) -> None:
    """A move-in from a town with no certificate here: its notice is set aside (reason,
    status, metric, alert), every later change of the town flows, and the operator can
    retry or resolve it; once the town's certificate exists the notice is sealed. Counts
    are Chiyoda's before the test and more: the node is shared."""
    before = await chiyoda_status(federation)
    waiting = before["outbox_undeliverable"]
    reasons = before["outbox_undeliverable_reasons"]
    log_file = federation.root / "log" / f"{CHIYODA.slug}.log"
    log_start = log_file.stat().st_size
    ops_start = (await query(federation, CHIYODA, "SELECT max(seq) FROM operation_log"))[0][0]

    people = SyntheticResidents(seed=77)
    async with federation.client(CHIYODA) as client:
        r = await client.post("/residents", json=move_in_from_sapporo(people, personal_data))
    assert r.status_code == 201, r.text
    await a_change_flows(federation, CHIYODA, TOKYO, personal_data)

    async def set_aside(count: int) -> bool:
        return (await chiyoda_status(federation)).get("outbox_undeliverable") == waiting + count

    await eventually(lambda: set_aside(1), seconds=30)
    status = await chiyoda_status(federation)
    assert status["outbox_undeliverable_reasons"] == reasons | {
        UNDELIVERABLE: reasons.get(UNDELIVERABLE, 0) + 1
    }
    assert status["outbox_unsealed"] == 0  # nothing waits behind it
    (item,) = await undeliverable(federation)
    assert item["recipient"] == SAPPORO_CHUO.uri
    assert item["message_type"] == "move_in.notice"
    assert item["reason"] == UNDELIVERABLE
    async with federation.client(CHIYODA) as client:
        metrics = (await client.get("/metrics")).text
    gauge = float(reasons.get(UNDELIVERABLE, 0) + 1)
    assert f'jukinet_outbox_undeliverable{{reason="{UNDELIVERABLE}"}} {gauge}' in metrics
    with log_file.open(encoding="utf-8", errors="replace") as log:
        log.seek(log_start)
        assert "alert outbox_undeliverable" in log.read()

    # retried while the town still has no certificate: set aside again, still alone
    assert "retry: 1 item(s)" in await outbox_cli(
        federation, "retry", "--recipient", SAPPORO_CHUO.uri
    )
    await eventually(lambda: set_aside(1), seconds=30)
    async with federation.client(CHIYODA) as client:
        r = await client.post("/residents", json=move_in_from_sapporo(people, personal_data))
    assert r.status_code == 201, r.text
    await eventually(lambda: set_aside(2), seconds=30)
    listing = await outbox_cli(federation, "list")
    assert str(item["id"]) in listing
    assert UNDELIVERABLE in listing
    assert "resolve: 1 item(s)" in await outbox_cli(federation, "resolve", str(item["id"]))
    assert (await chiyoda_status(federation))["outbox_undeliverable"] == waiting + 1
    logged = await query(
        federation, CHIYODA,
        "SELECT outcome FROM operation_log WHERE action = 'outbox' AND seq > :s",
        s=ops_start or 0,
    )  # fmt: skip
    assert [tuple(r) for r in logged] == [("ok",), ("ok",)]

    # the town's certificate arrives: the waiting notice goes back in line by itself and
    # is sealed (the broker does not route to a town outside the federation, so it stays
    # unsent, on its own channel)
    ca = CertificateAuthority.load(federation.layout.ca_dir)
    federation.layout.issue(ca, SAPPORO_CHUO, validity=dt.timedelta(days=1))
    await eventually(lambda: set_aside(0), seconds=90)
    sealed = await query(
        federation, CHIYODA, "SELECT count(*) FROM outbox_messages WHERE recipient = :r",
        r=SAPPORO_CHUO.uri,
    )  # fmt: skip
    assert sealed[0][0] == 1
    await a_change_flows(federation, CHIYODA, TOKYO, personal_data)


async def test_no_personal_data_reached_any_log(
    federation: LocalFederation, personal_data: PersonalData
) -> None:
    assert personal_data.leaks(federation.root / "log") == []
