"""Certificate rotation without stopping the federation: the node rolls over to its new
credentials, the brokers' pinned list refuses the old TLS certificate, receivers refuse
what the old signing key signs after revocation, and no change is lost in the switch."""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import nats
import pytest
import pytest_asyncio

from jukinet.bus import tls_context
from jukinet.contracts.principals import AGENCY
from jukinet.contracts.subjects import inbox_prefix, message_subject
from jukinet.devtools.localfed import LocalFederation
from jukinet.devtools.synthetic import SyntheticResidents
from jukinet.envelope import RecipientDirectory, Sealer
from jukinet.pki import Credentials, TrustStore, read_certificate
from tests.federation.support import eventually, query
from tests.principals import HIRATSUKA, KANAGAWA

pytestmark = [pytest.mark.federation, pytest.mark.asyncio(loop_scope="session")]

CHANGES = 120


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def fed(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LocalFederation]:
    # no chain checkpoints: the test speaks in Hiratsuka's channel with its next sequence
    # number, which a checkpoint sent in between would take
    quiet = {"JUKINET_MUNICIPAL_CHECKPOINT_SECONDS": "0"}
    federation = LocalFederation(Path(tmp_path_factory.mktemp("rotation")), extra_env=quiet)
    try:
        await federation.start(only={HIRATSUKA, KANAGAWA, AGENCY})  # the path it rotates on
        yield federation
    finally:
        federation.stop()


async def connects(fed: LocalFederation, cert_dir: Path) -> bool:
    tls = tls_context(cert_dir / "tls.crt", cert_dir / "tls.key", fed.layout.ca_cert)
    try:
        nc = await nats.connect(
            servers=[fed.nats_url], tls=tls, inbox_prefix=inbox_prefix(HIRATSUKA),
            allow_reconnect=False, connect_timeout=2,
        )  # fmt: skip
    except Exception:
        return False
    try:
        return bool(nc.is_connected)
    finally:
        await nc.close()


async def test_rotation_loses_nothing_and_refuses_the_old_credential(
    fed: LocalFederation, tmp_path: Path
) -> None:
    old = tmp_path / "old"
    shutil.copytree(fed.layout.node_dir(HIRATSUKA), old)
    people = SyntheticResidents(seed=21)
    async with fed.client(HIRATSUKA) as client:
        for i in range(CHANGES):
            if i == CHANGES // 3:
                fed.rotate(HIRATSUKA)
            r = await client.post("/residents", json=people.registration(HIRATSUKA.code))
            assert r.status_code == 201
            await asyncio.sleep(0.02)

    async def all_arrived() -> bool:
        rows = await query(
            fed,
            AGENCY,
            "SELECT count(*) FROM identity_records WHERE municipality = :m",
            m=HIRATSUKA.code,
        )
        return int(rows[0][0]) == CHANGES

    await eventually(all_arrived, seconds=120)
    for node in (KANAGAWA, AGENCY):
        assert (await query(fed, node, "SELECT count(*) FROM dead_letters"))[0][0] == 0

    new = fed.layout.node_dir(HIRATSUKA)
    assert read_certificate(new / "tls.crt") != read_certificate(old / "tls.crt")
    assert await connects(fed, new)
    assert not await connects(fed, old)  # pinned list: the old certificate is refused
    async with fed.client(HIRATSUKA) as client:
        assert (await client.get("/readyz")).status_code == 200

    # the old signing key, used after its revocation, is refused by the receiver (in its
    # place in the channel: an authentic message refused for time uses up its sequence)
    (last,) = await query(
        fed, KANAGAWA, "SELECT last_sequence FROM inbox_channels WHERE sender = :s",
        s=HIRATSUKA.uri,
    )  # fmt: skip
    trust = TrustStore(read_certificate(fed.layout.ca_cert))
    stale = Sealer(
        Credentials.load(old, fed.layout.ca_cert, HIRATSUKA),
        RecipientDirectory.from_layout(fed.layout, trust),
    )
    token = stale.seal(
        audience=KANAGAWA,
        type="identity.change.batch",
        payload={"items": []},
        sequence=last[0] + 1,
        ttl=dt.timedelta(hours=1),
    ).token
    nc = await nats.connect(
        servers=[fed.nats_url],
        tls=fed.tls(HIRATSUKA),
        inbox_prefix=inbox_prefix(HIRATSUKA),
        allow_reconnect=False,
    )
    try:
        await nc.jetstream().publish(
            message_subject(KANAGAWA, HIRATSUKA), token.encode(), timeout=5
        )
    finally:
        await nc.close()

    async def refused() -> bool:
        rows = await query(fed, KANAGAWA, "SELECT reason FROM dead_letters")
        return ("signer_revoked",) in [tuple(r) for r in rows]

    await eventually(refused, seconds=30)
