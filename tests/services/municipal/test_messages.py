"""What a municipality takes over the bus, through the router its app is built with (no
broker; real sealed messages, a migrated database): code pools from the agency alone,
disclosure answers and refusal notices from its own tiers, move-in notices from any
municipality; any other type is unsupported."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from jukinet.contracts.codepool import CODE_DESIGNATED, CODE_POOL_BATCH, CODE_REFILL_REQUEST_BATCH
from jukinet.contracts.ids import generate_resident_code
from jukinet.contracts.moveout import MOVE_OUT_CERTIFICATE_BATCH
from jukinet.contracts.mynumber import NUMBER_ASSIGNED_BATCH
from jukinet.contracts.principals import Principal
from jukinet.pki import PkiLayout, TrustStore
from municipal.app import node_spec
from municipal.disclosures.service import RESPONSE_BATCH
from municipal.messages import REFUSED_BATCH
from municipal.models import CodePoolEntry
from municipal.moves import MOVE_IN_NOTICE_BATCH
from municipal.settings import MunicipalSettings
from tests.principals import AGENCY, CHIYODA, HIRATSUKA, KANAGAWA, MOFA, TOKYO, YOKOHAMA
from tests.services.inbound import BACKENDS, TOKEN, Inbound, fresh_database, inbound

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture(scope="module", params=BACKENDS)
async def hiratsuka(
    request: pytest.FixtureRequest,
    layout: PkiLayout,
    trust: TrustStore,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Inbound]:
    async with fresh_database(request.param, tmp_path_factory.mktemp("hiratsuka")) as url:
        settings = MunicipalSettings(
            principal=HIRATSUKA.uri, pki_root=layout.root, database_url=url, api_token=TOKEN
        )
        async with inbound(node_spec(settings), HIRATSUKA, layout, trust, url) as node:
            yield node


def pool(*codes: str) -> dict[str, object]:
    return {"items": [{"designation_id": secrets.token_hex(16), "codes": list(codes)}]}


async def pooled(hiratsuka: Inbound) -> set[str]:
    async with hiratsuka.sessions() as session:
        return set(await session.scalars(select(CodePoolEntry.code)))


async def test_the_agencys_codes_fill_the_pool_and_go_on_to_the_prefecture(
    hiratsuka: Inbound,
) -> None:
    codes = {generate_resident_code() for _ in range(2)}
    queued, before = await hiratsuka.outbox(), await pooled(hiratsuka)
    await hiratsuka.apply(hiratsuka.message(AGENCY, CODE_POOL_BATCH, pool(*codes)))
    assert (await hiratsuka.outbox())[len(queued) :] == [(KANAGAWA.uri, CODE_DESIGNATED)]
    assert await pooled(hiratsuka) == before | codes


async def test_another_type_is_unsupported(hiratsuka: Inbound) -> None:
    message = hiratsuka.message(AGENCY, CODE_REFILL_REQUEST_BATCH, {"items": [{}]})
    assert await hiratsuka.refusal(message) == (
        "unsupported_type",
        f"municipalities do not accept {CODE_REFILL_REQUEST_BATCH}",
    )


@pytest.mark.parametrize(
    ("sender", "kind", "reason", "detail"),
    [
        pytest.param(
            KANAGAWA, CODE_POOL_BATCH, "sender_not_permitted",
            "only the agency designates resident codes", id="pool-from-its-prefecture",
        ),
        pytest.param(
            KANAGAWA, MOVE_IN_NOTICE_BATCH, "not_a_municipality",
            "only a municipality sends a move-in notice", id="notice-from-a-prefecture",
        ),
        pytest.param(
            YOKOHAMA, RESPONSE_BATCH, "sender_not_permitted",
            "disclosure answers come from the tiers asked", id="answer-from-a-town",
        ),
        pytest.param(
            CHIYODA, REFUSED_BATCH, "sender_not_permitted",
            "only this town's tiers report refusals", id="refusal-from-a-town",
        ),
    ],
)  # fmt: skip
async def test_a_sender_the_type_does_not_admit_is_refused(
    hiratsuka: Inbound, sender: Principal, kind: str, reason: str, detail: str
) -> None:
    code = generate_resident_code()
    message = hiratsuka.message(sender, kind, pool(code))
    assert await hiratsuka.refusal(message) == (reason, detail)
    assert code not in await pooled(hiratsuka)


async def test_its_tiers_and_any_municipality_may_write(hiratsuka: Inbound) -> None:
    accepts = hiratsuka.spec.messages.accepts
    assert [accepts(p) for p in (AGENCY, KANAGAWA, YOKOHAMA, CHIYODA)] == [True] * 4
    assert not accepts(TOKYO)  # another town's prefecture
    assert not accepts(MOFA)
    assert hiratsuka.spec.messages.types == {
        RESPONSE_BATCH, CODE_POOL_BATCH, MOVE_IN_NOTICE_BATCH, REFUSED_BATCH,
        NUMBER_ASSIGNED_BATCH, MOVE_OUT_CERTIFICATE_BATCH,
    }  # fmt: skip
