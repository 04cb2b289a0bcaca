"""A prefecture learns its towns' designations from the agency's signed pools that the
towns pass on: each passed-on designation stands alone — one that does not verify as the
agency's is dead-lettered by itself, and the others in the same message are learned."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

import pytest
from sqlalchemy import select, text

from jukinet.contracts.codepool import CODE_POOL_BATCH
from jukinet.contracts.ids import generate_resident_code
from jukinet.contracts.principals import AGENCY, Principal
from jukinet.db.engine import create_engine, session_factory
from jukinet.envelope import Opener, RecipientDirectory, Sealer, SignedMessage
from jukinet.pki import Credentials, PkiLayout, TrustStore, utcnow
from prefecture.codes import learn_designations
from prefecture.models import Base, CodeDesignation
from tests.principals import CHIYODA, HIRATSUKA, KANAGAWA

pytestmark = pytest.mark.asyncio

TTL = dt.timedelta(hours=1)


def sealer(layout: PkiLayout, trust: TrustStore, who: Principal) -> Sealer:
    creds = Credentials.load(layout.node_dir(who), layout.ca_cert, who)
    return Sealer(creds, RecipientDirectory.from_layout(layout, trust))


def opener(layout: PkiLayout, trust: TrustStore, who: Principal) -> Opener:
    return Opener(Credentials.load(layout.node_dir(who), layout.ca_cert, who), trust)


def pool(layout: PkiLayout, trust: TrustStore, by: Principal, codes: list[str]) -> str:
    """A code pool ``by`` sent Hiratsuka, as the signed token Hiratsuka passes on."""
    designation = {"designation_id": secrets.token_hex(16), "codes": codes}
    sealed = sealer(layout, trust, by).seal(
        audience=HIRATSUKA, type=CODE_POOL_BATCH, payload={"items": [designation]},
        sequence=1, ttl=TTL,
    )  # fmt: skip
    return opener(layout, trust, HIRATSUKA).open(sealed.token).token


def passed_on(layout: PkiLayout, trust: TrustStore, items: list[dict[str, Any]]) -> SignedMessage:
    """Hiratsuka's ``codes.designated`` message as the prefecture's inbox opens it."""
    town = sealer(layout, trust, HIRATSUKA)
    sealed = town.seal(audience=KANAGAWA, type="codes.designated.batch",
                       payload={"items": items}, sequence=1, ttl=TTL)  # fmt: skip
    return opener(layout, trust, KANAGAWA).open(sealed.token)


async def test_a_designation_that_does_not_verify_is_dead_lettered_alone(
    layout: PkiLayout, trust: TrustStore, database_url: str
) -> None:
    good, forged = [generate_resident_code()], [generate_resident_code()]
    impostor = CHIYODA  # signs, but is not the agency
    message = passed_on(layout, trust, [
        {"origin": pool(layout, trust, impostor, forged)}, {"origin": "not a token"},
        {"origin": pool(layout, trust, AGENCY, good)},
    ])  # fmt: skip
    engine = create_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        kanagawa = opener(layout, trust, KANAGAWA)
        async with session_factory(engine)() as session, session.begin():
            learned = await learn_designations(session, message, kanagawa, now=utcnow())
        assert learned == 1
        async with session_factory(engine)() as session:
            known = (await session.execute(select(CodeDesignation.code))).scalars().all()
            reasons = (
                (await session.execute(text("SELECT reason FROM dead_letters ORDER BY id")))
                .scalars()
                .all()
            )
        assert known == good
        assert reasons == ["origin_not_a_designation", "origin_invalid"]
    finally:
        await engine.dispose()
