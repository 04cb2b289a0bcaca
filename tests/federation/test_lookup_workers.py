"""A lookup server run as several worker processes over one database: each worker logs
through its own ledger, and the provision log stays one unbroken chain with every lookup
in it once, its activity counted once for the monitoring rules."""

from __future__ import annotations

import asyncio
import random

import psutil
import pytest
from typer.testing import CliRunner

from jukinet.cli import app
from jukinet.contracts.ids import resident_code_check_digit
from jukinet.contracts.principals import Principal, PrincipalKind
from jukinet.devtools.localfed import LocalFederation
from tests.federation.support import database_url_of, query
from tests.principals import AGENCY

pytestmark = [pytest.mark.federation, pytest.mark.asyncio(loop_scope="session")]

RUN_NODES = {AGENCY}
EXTRA_ENV = {"JUKINET_AGENCY_LOOKUP_WORKERS": "2"}
PENSION = Principal(PrincipalKind.MINISTRY, "jpa-pension")
CLIENTS, EACH = 8, 15  # eight connections, fifteen lookups on each


@pytest.fixture
def federation(own_federation: LocalFederation) -> LocalFederation:
    return own_federation


def _unknown_code(rng: random.Random) -> str:
    body = str(rng.randrange(10**9, 10**10))
    return body + str(resident_code_check_digit(body))


async def _lookups(fed: LocalFederation, seed: int) -> list[int]:
    rng = random.Random(seed)
    async with fed.lookup_client(AGENCY, PENSION) as client:
        statuses = []
        for _ in range(EACH):
            body = {"affair": "pension-existence-check", "resident_code": _unknown_code(rng)}
            statuses.append((await client.post("/lookups/by-code", json=body)).status_code)
        return statuses


async def test_two_workers_keep_one_chain_and_count_every_lookup_once(
    federation: LocalFederation,
) -> None:
    server = federation.lookup_servers[AGENCY]
    assert server.pid is not None
    workers = psutil.Process(server.pid).children()
    assert len([w for w in workers if "spawn_main" in " ".join(w.cmdline())]) == 2

    statuses = await asyncio.gather(*(_lookups(federation, seed) for seed in range(CLIENTS)))
    assert {s for each in statuses for s in each} == {200}

    kinds = await query(
        federation, AGENCY,
        "SELECT outcome, count(*) FROM provision_log WHERE client = :c GROUP BY outcome",
        c=PENSION.uri,
    )  # fmt: skip
    assert {tuple(k) for k in kinds} == {("not_found", CLIENTS * EACH)}
    counted = await query(
        federation, AGENCY, "SELECT sum(lookups) FROM lookup_activity WHERE client = :c",
        c=PENSION.uri,
    )  # fmt: skip
    assert int(counted[0][0]) == CLIENTS * EACH

    total = (await query(federation, AGENCY, "SELECT count(*) FROM provision_log"))[0][0]
    args = [
        "audit", "verify", "--db", database_url_of(federation, AGENCY),
        "--node", AGENCY.uri, "--pki-root", str(federation.layout.root),
    ]  # fmt: skip
    result = await asyncio.to_thread(CliRunner().invoke, app, args)
    assert result.exit_code == 0, result.output
    assert f"{total} entries verified" in result.output
