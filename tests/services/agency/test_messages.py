"""What the agency takes over the bus, through the router its app is built with (no
broker; real sealed messages, a migrated database): refill requests from municipalities
are answered, forwards only from prefectures, and any other type is unsupported."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select

from agency.app import node_spec
from agency.changes import FORWARD_BATCH
from agency.models import CodeRegistryEntry
from agency.settings import AgencySettings
from jukinet.contracts.codepool import CODE_POOL, CODE_POOL_BATCH, CODE_REFILL_REQUEST_BATCH
from jukinet.contracts.mynumber import NUMBER_REQUEST_BATCH
from jukinet.contracts.principals import Principal
from jukinet.lookups import DISCLOSURE_REQUEST_BATCH
from jukinet.pki import PkiLayout, TrustStore
from tests.principals import AGENCY, CHIYODA, HIRATSUKA, KANAGAWA, MOFA, TOKYO
from tests.services.inbound import BACKENDS, TOKEN, Inbound, fresh_database, inbound

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture(scope="module", params=BACKENDS)
async def agency(
    request: pytest.FixtureRequest,
    layout: PkiLayout,
    trust: TrustStore,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Inbound]:
    async with fresh_database(request.param, tmp_path_factory.mktemp("agency")) as url:
        settings = AgencySettings(
            principal=AGENCY.uri, pki_root=layout.root, database_url=url, api_token=TOKEN
        )
        async with inbound(node_spec(settings), AGENCY, layout, trust, url) as node:
            yield node


def refill(wanted: int) -> dict[str, object]:
    return {"items": [{"request_id": secrets.token_hex(16), "wanted": wanted, "remaining": 0}]}


async def designated(agency: Inbound, town: Principal) -> int:
    async with agency.sessions() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(CodeRegistryEntry)
            .where(CodeRegistryEntry.municipality == town.code)
        )
    return int(count or 0)


async def test_a_refill_request_is_answered_with_codes(agency: Inbound) -> None:
    queued, before = await agency.outbox(), await designated(agency, HIRATSUKA)
    await agency.apply(agency.message(HIRATSUKA, CODE_REFILL_REQUEST_BATCH, refill(3)))
    assert (await agency.outbox())[len(queued) :] == [(HIRATSUKA.uri, CODE_POOL)]
    assert await designated(agency, HIRATSUKA) == before + 3


async def test_another_type_is_unsupported(agency: Inbound) -> None:
    message = agency.message(CHIYODA, CODE_POOL_BATCH, refill(3))
    assert await agency.refusal(message) == (
        "unsupported_type",
        f"the agency does not accept {CODE_POOL_BATCH}",
    )
    assert await designated(agency, CHIYODA) == 0


@pytest.mark.parametrize(
    ("sender", "kind", "detail"),
    [
        pytest.param(CHIYODA, FORWARD_BATCH, "only prefectures forward changes", id="forward"),
        pytest.param(
            KANAGAWA, CODE_REFILL_REQUEST_BATCH, "only municipalities are designated codes",
            id="refill",
        ),
        pytest.param(
            TOKYO, DISCLOSURE_REQUEST_BATCH, "only municipalities request disclosures",
            id="disclosure",
        ),
    ],
)  # fmt: skip
async def test_a_sender_of_the_wrong_kind_is_refused(
    agency: Inbound, sender: Principal, kind: str, detail: str
) -> None:
    message = agency.message(sender, kind, refill(3))
    assert await agency.refusal(message) == ("sender_not_permitted", detail)
    assert await designated(agency, sender) == 0


async def test_prefectures_and_municipalities_may_write(agency: Inbound) -> None:
    accepts = agency.spec.messages.accepts
    assert [accepts(p) for p in (KANAGAWA, TOKYO, HIRATSUKA, CHIYODA)] == [True] * 4
    assert not accepts(MOFA)
    assert not accepts(AGENCY)
    assert agency.spec.messages.types == {
        FORWARD_BATCH, DISCLOSURE_REQUEST_BATCH, CODE_REFILL_REQUEST_BATCH,
        NUMBER_REQUEST_BATCH,
    }  # fmt: skip
