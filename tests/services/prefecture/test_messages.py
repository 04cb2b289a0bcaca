"""What a prefecture takes over the bus, through the router its app is built with (no
broker; real sealed messages, a migrated database): everything from its own towns and
nothing from anyone else; any other type is unsupported."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from jukinet.contracts.codepool import (
    CODE_DESIGNATED_BATCH,
    CODE_REFILL_REQUEST_BATCH,
    CODES_MIGRATED_BATCH,
)
from jukinet.contracts.ids import generate_resident_code
from jukinet.contracts.principals import Principal
from jukinet.envelope import FORWARD_TYPE
from jukinet.lookups import DISCLOSURE_REQUEST_BATCH
from jukinet.pki import PkiLayout, TrustStore
from prefecture.app import node_spec
from prefecture.changes import CHANGE_BATCH, REPAIR_BATCH
from prefecture.models import CodeDesignation
from prefecture.settings import PrefectureSettings
from tests.principals import AGENCY, CHIYODA, HIRATSUKA, KANAGAWA, TOKYO, YOKOHAMA
from tests.services.inbound import BACKENDS, TOKEN, Inbound, fresh_database, inbound

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture(scope="module", params=BACKENDS)
async def kanagawa(
    request: pytest.FixtureRequest,
    layout: PkiLayout,
    trust: TrustStore,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Inbound]:
    async with fresh_database(request.param, tmp_path_factory.mktemp("kanagawa")) as url:
        settings = PrefectureSettings(
            principal=KANAGAWA.uri, pki_root=layout.root, database_url=url, api_token=TOKEN
        )
        async with inbound(node_spec(settings), KANAGAWA, layout, trust, url) as node:
            yield node


def claim(code: str) -> dict[str, object]:
    return {"items": [{"codes": [code]}]}


async def town_of(kanagawa: Inbound, code: str) -> str | None:
    async with kanagawa.sessions() as session:
        return await session.scalar(
            select(CodeDesignation.municipality).where(CodeDesignation.code == code)
        )


async def test_a_towns_migrated_codes_are_learned_and_forwarded(kanagawa: Inbound) -> None:
    code = generate_resident_code()
    queued = await kanagawa.outbox()
    await kanagawa.apply(kanagawa.message(HIRATSUKA, CODES_MIGRATED_BATCH, claim(code)))
    assert (await kanagawa.outbox())[len(queued) :] == [(AGENCY.uri, FORWARD_TYPE)]
    assert await town_of(kanagawa, code) == HIRATSUKA.code


async def test_another_type_is_unsupported(kanagawa: Inbound) -> None:
    message = kanagawa.message(HIRATSUKA, CODE_REFILL_REQUEST_BATCH, {"items": [{}]})
    assert await kanagawa.refusal(message) == (
        "unsupported_type",
        f"a prefecture does not accept {CODE_REFILL_REQUEST_BATCH}",
    )


@pytest.mark.parametrize("sender", [CHIYODA, AGENCY, TOKYO], ids=["other-town", "agency", "pref"])
async def test_only_its_own_towns_may_send_anything(kanagawa: Inbound, sender: Principal) -> None:
    code = generate_resident_code()
    message = kanagawa.message(sender, CODES_MIGRATED_BATCH, claim(code))
    assert await kanagawa.refusal(message) == (
        "sender_not_permitted",
        "only this prefecture's municipalities write here",
    )
    assert await town_of(kanagawa, code) is None
    assert not kanagawa.spec.messages.accepts(sender)


async def test_its_towns_may_write(kanagawa: Inbound) -> None:
    assert kanagawa.spec.messages.accepts(HIRATSUKA)
    assert kanagawa.spec.messages.accepts(YOKOHAMA)
    assert kanagawa.spec.messages.types == {
        CHANGE_BATCH, CODE_DESIGNATED_BATCH, CODES_MIGRATED_BATCH, REPAIR_BATCH,
        DISCLOSURE_REQUEST_BATCH,
    }  # fmt: skip
