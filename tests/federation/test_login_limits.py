"""Logins are limited per source — the peer address, whatever a request says about where
it came from — on a node of this module's own that allows two logins a minute: spending
127.0.0.1's budget there (every other test's address) disturbs no one, and at that rate
the budget does not refill while the test runs, however slow the machine."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from jukinet.devtools.localfed import LocalFederation
from jukinet.operators import card_login
from tests.federation.support import (
    PASSWORD,
    PersonalData,
    anonymous,
    card_of,
    cli,
    database_url_of,
    fresh_source,
    log_in,
    query,
)
from tests.principals import HIRATSUKA

pytestmark = [pytest.mark.federation, pytest.mark.asyncio(loop_scope="session")]

RUN_NODES = {HIRATSUKA}
LOGINS_PER_MINUTE = 2
EXTRA_ENV = {"JUKINET_MUNICIPAL_LOGIN_PER_MINUTE": str(LOGINS_PER_MINUTE)}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def operators(own_federation: LocalFederation) -> AsyncIterator[LocalFederation]:
    """A clerk, "ono", created with `jukinet operators create` (a new IC card)."""
    result = await cli(
        "operators", "create", "ono", "--role", "clerk", "--node", HIRATSUKA.uri,
        "--db", database_url_of(own_federation, HIRATSUKA),
        "--pki-root", str(own_federation.layout.root),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    yield own_federation


async def test_logins_are_rate_limited_per_source(operators: LocalFederation) -> None:
    source = fresh_source()
    tries = [
        await log_in(operators, HIRATSUKA, "ono", source=source)
        for _ in range(LOGINS_PER_MINUTE + 3)
    ]
    assert [r.status_code for r in tries[:LOGINS_PER_MINUTE]] == [200] * LOGINS_PER_MINUTE
    refused = [r for r in tries if r.status_code == 429]
    assert refused, [r.status_code for r in tries]
    assert refused[0].headers["content-type"] == "application/problem+json"
    assert refused[0].json()["type"].endswith("/too-many-attempts")
    assert int(refused[0].headers["retry-after"]) >= 1
    logged = await query(
        operators, HIRATSUKA,
        "SELECT count(*) FROM operation_log WHERE action = 'auth.login' AND target = 'ono'",
    )  # fmt: skip
    assert logged[0][0] == len(tries) - len(refused)  # a throttled attempt is not chained
    assert (await log_in(operators, HIRATSUKA, "ono")).status_code == 200  # elsewhere


async def test_a_forwarded_for_header_does_not_make_a_new_source(
    operators: LocalFederation,
) -> None:
    """From 127.0.0.1 (the address uvicorn would trust as a proxy by default), a fresh
    ``X-Forwarded-For`` per attempt must not buy a fresh login budget: the peer address is
    the source. Last in the module, as it spends 127.0.0.1's budget for a minute."""
    tries = []
    for _ in range(LOGINS_PER_MINUTE + 2):
        async with anonymous(operators, HIRATSUKA, "127.0.0.1") as client:
            client.headers.update({"X-Forwarded-For": fresh_source(), "X-Real-IP": fresh_source()})
            card = card_of(operators, HIRATSUKA, "ono")
            tries.append((await card_login(client, HIRATSUKA, "ono", PASSWORD, card)).status_code)
    assert tries[:LOGINS_PER_MINUTE] == [200] * LOGINS_PER_MINUTE
    assert tries[LOGINS_PER_MINUTE:] == [429, 429]


async def test_no_personal_data_reached_any_log(
    operators: LocalFederation, personal_data: PersonalData
) -> None:
    personal_data.add(PASSWORD)
    assert personal_data.leaks(operators.root / "log") == []
