"""Impersonation and malformed input fail at the receiver: a node with broker access
that injects forged, misaddressed, replayed, expired or malformed messages gets them
dead-lettered with a reason, nothing stored changes, and good messages keep flowing.

Shinjuku (131041) is not started: the test holds its credentials and speaks as it; and
Tokyo is stopped for a while. So this module has a federation of its own (the agency,
Tokyo and Chiyoda), not the shared one; test_hostile_shared has the hostile tests that
need neither.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import nats
import nats.errors
import pytest

from jukinet.contracts.ids import generate_resident_code
from jukinet.contracts.principals import Principal
from jukinet.contracts.subjects import CONSUMER, inbox_prefix, message_subject, stream_name
from jukinet.devtools.localfed import LocalFederation
from jukinet.envelope import RecipientDirectory, Sealer
from jukinet.pki import (
    CertificateAuthority,
    Credentials,
    PkiLayout,
    TrustStore,
    read_certificate,
    revoke,
    utcnow,
)
from tests.federation.consumer_attacks import SHAPES, attack_round, drain, party
from tests.federation.support import (
    PersonalData,
    a_change_flows,
    eventually,
    execute,
    query,
    tier_record,
)
from tests.principals import AGENCY, CHIYODA, KANAGAWA, SHINJUKU, TOKYO

pytestmark = [pytest.mark.federation, pytest.mark.asyncio(loop_scope="session")]

RUN_NODES = {AGENCY, TOKYO, CHIYODA}  # the agency hands Chiyoda its resident codes
CHANGE_BATCH = "identity.change.batch"
# Tokyo tolerates 2 s of clock skew, so a test can outwait a message's lifetime quickly
EXTRA_ENV = {"JUKINET_PREFECTURE_CLOCK_SKEW_SECONDS": "2"}
TTL = dt.timedelta(hours=1)


def sealer(
    layout: PkiLayout,
    keys_of: Principal,
    *,
    claimed: Principal | None = None,
    clock: Any = utcnow,
    keys: PkiLayout | None = None,
) -> Sealer:
    """Seal as ``keys_of`` (with its keys from ``keys``, by default the federation's)."""
    keys = keys or layout
    creds = Credentials.load(keys.node_dir(keys_of), layout.ca_cert, claimed or keys_of)
    trust = TrustStore(read_certificate(layout.ca_cert))
    return Sealer(creds, RecipientDirectory.from_layout(layout, trust), clock=clock)


def change(code: str | None = None, **record: Any) -> dict[str, Any]:
    base = {
        "resident_code": code or generate_resident_code(),
        "municipality": SHINJUKU.code,
        "name": "新宿 一郎",
        "name_kana": "シンジュク イチロウ",
        "birth_date": "1985-05-05",
        "sex": "male",
        "address": "東京都新宿区西新宿二丁目8番1号",
        "change_reason": "birth",
        "change_date": "1985-05-05",
    }
    base.update(record)
    return {"record": base, "version": 1, "correlation_id": "0123456789abcdef"}


class Speaker:
    """A raw broker connection as one node (its own certificate, its own subjects)."""

    def __init__(self, fed: LocalFederation, node: Principal) -> None:
        self.fed, self.node = fed, node

    async def publish(self, token: str, *, to: Principal = TOKYO) -> None:
        nc = await nats.connect(
            servers=[self.fed.nats_url],
            tls=self.fed.tls(self.node),
            tls_hostname="localhost",
            inbox_prefix=inbox_prefix(self.node),
            allow_reconnect=False,
        )
        try:
            await nc.jetstream().publish(message_subject(to, self.node), token.encode(), timeout=5)
        finally:
            await nc.close()


async def dead_letter_reasons(fed: LocalFederation) -> list[str]:
    async with fed.client(TOKYO) as client:
        r = await client.get("/dead-letters")
    r.raise_for_status()
    return [d["reason"] for d in r.json()]


async def wait_for_dead_letters(fed: LocalFederation, count: int) -> list[str]:
    async def enough() -> bool:
        return len(await dead_letter_reasons(fed)) >= count

    await eventually(enough, seconds=30)
    return await dead_letter_reasons(fed)


async def record_count(fed: LocalFederation) -> int:
    return int((await query(fed, TOKYO, "SELECT count(*) FROM identity_records"))[0][0])


async def test_forged_misaddressed_replayed_and_expired_messages_are_dead_lettered(
    federation: LocalFederation,
    other_pki: tuple[PkiLayout, Any],
    personal_data: PersonalData,
    tmp_path: Path,
) -> None:
    layout = federation.layout
    await a_change_flows(federation, CHIYODA, TOKYO, personal_data)  # something to replay
    before = await record_count(federation)
    payload = {"items": [change()]}
    chiyoda, shinjuku = Speaker(federation, CHIYODA), Speaker(federation, SHINJUKU)
    seal: dict[str, Any] = {"type": CHANGE_BATCH, "payload": payload, "sequence": 1, "ttl": TTL}

    # Chiyoda's own valid key, claiming to be Shinjuku, on Chiyoda's own subject
    forged = sealer(layout, CHIYODA, claimed=SHINJUKU).seal(audience=TOKYO, **seal)
    await chiyoda.publish(forged.token)
    # Shinjuku's genuine message, but published by Chiyoda's connection
    genuine = sealer(layout, SHINJUKU).seal(audience=TOKYO, **seal)
    await chiyoda.publish(genuine.token)
    # addressed to Kanagawa: encrypted to Kanagawa, or encrypted to Tokyo but aud=Kanagawa
    await shinjuku.publish(sealer(layout, SHINJUKU).seal(audience=KANAGAWA, **seal).token)
    s = sealer(layout, SHINJUKU)
    _, signed = s.sign(audience=KANAGAWA, **seal)
    await shinjuku.publish(s.encrypt(signed, TOKYO))
    # expired: signed two hours ago (with a certificate valid then), for half an hour
    then = PkiLayout(tmp_path / "then")
    ca = CertificateAuthority.load(layout.ca_dir)
    then.issue(ca, SHINJUKU, validity=dt.timedelta(days=1), now=utcnow() - dt.timedelta(hours=3))
    past = Sealer(
        Credentials.load(then.node_dir(SHINJUKU), layout.ca_cert, SHINJUKU),
        RecipientDirectory.from_layout(layout, TrustStore(read_certificate(layout.ca_cert))),
        clock=lambda: utcnow() - dt.timedelta(hours=2),
    )
    await shinjuku.publish(
        past.seal(audience=TOKYO, **seal | {"ttl": dt.timedelta(minutes=30)}).token
    )
    # from a look-alike federation's CA
    other_layout, _ = other_pki
    impostor = Credentials.load(other_layout.node_dir(SHINJUKU), other_layout.ca_cert, SHINJUKU)
    trust = TrustStore(read_certificate(layout.ca_cert))
    outsider = Sealer(impostor, RecipientDirectory.from_layout(layout, trust))
    await shinjuku.publish(outsider.seal(audience=TOKYO, **seal).token)
    # replayed: a message Tokyo already applied, sent again from Chiyoda's own outbox
    sent = await query(
        federation,
        CHIYODA,
        "SELECT subject, token FROM outbox_messages WHERE sent_at IS NOT NULL "
        "AND recipient = :r ORDER BY sequence",
        r=TOKYO.uri,
    )
    assert sent[0][0] == message_subject(TOKYO, CHIYODA)
    await chiyoda.publish(sent[0][1])

    reasons = await wait_for_dead_letters(federation, 7)
    assert sorted(reasons) == sorted(
        [
            "signer_not_issuer",
            "sender_mismatch",
            "decryption_failed",
            "wrong_audience",
            "message_expired",
            "untrusted_signer",
            "replayed",
        ]
    )
    assert await record_count(federation) == before
    await a_change_flows(federation, CHIYODA, TOKYO, personal_data)


async def test_malformed_payloads_are_rejected_and_change_nothing(
    federation: LocalFederation, personal_data: PersonalData
) -> None:
    speaker, s = Speaker(federation, SHINJUKU), sealer(federation.layout, SHINJUKU)
    bad_code = generate_resident_code()
    bad_code = bad_code[:-1] + str((int(bad_code[-1]) + 1) % 10)
    long_name = "長" * 5000
    personal_data.add(bad_code, long_name[:50])
    payloads: list[tuple[str, dict[str, Any]]] = [
        ("invalid_payload", {"items": [change(bad_code)]}),
        ("invalid_payload", {"items": [change(birth_date="2999-01-01", change_date="2999-01-01")]}),
        ("invalid_payload", {"items": [change(birth_date="2023-02-30")]}),
        ("invalid_payload", {"items": [change(name=long_name)]}),
        ("invalid_payload", {"items": [change(municipality="131017")]}),
        ("invalid_payload", {"items": []}),
        ("invalid_payload", {"changes": "everything"}),
        ("foreign_record", {"items": [change(municipality=CHIYODA.code)]}),
    ]
    held = await query(
        federation,
        TOKYO,
        "SELECT resident_code FROM identity_records WHERE municipality = :m",
        m=CHIYODA.code,
    )
    payloads.append(("foreign_resident", {"items": [change(held[0][0])]}))  # Chiyoda's resident
    before = await record_count(federation)
    start = len(await dead_letter_reasons(federation))
    rows = await query(
        federation,
        TOKYO,
        "SELECT last_sequence FROM inbox_channels WHERE sender = :s",
        s=SHINJUKU.uri,
    )
    next_seq = (rows[0][0] if rows else 0) + 1
    for offset, (_, payload) in enumerate(payloads):
        token = s.seal(
            audience=TOKYO, type=CHANGE_BATCH, payload=payload, sequence=next_seq + offset, ttl=TTL
        ).token
        await speaker.publish(token)
    token = s.seal(
        audience=TOKYO,
        type="identity.unknown",
        payload={},
        sequence=next_seq + len(payloads),
        ttl=TTL,
    ).token
    await speaker.publish(token)
    good = change()
    personal_data.add(good["record"]["resident_code"])
    await designate_here(federation, good["record"]["resident_code"])
    last = next_seq + len(payloads) + 1
    await speaker.publish(
        s.seal(
            audience=TOKYO, type=CHANGE_BATCH, payload={"items": [good]}, sequence=last, ttl=TTL
        ).token
    )

    async def good_one_stored() -> bool:
        return await record_count(federation) == before + 1

    await eventually(good_one_stored, seconds=30)
    reasons = (await dead_letter_reasons(federation))[
        : len(await dead_letter_reasons(federation)) - start
    ]
    expected = [reason for reason, _ in payloads] + ["unsupported_type"]
    assert sorted(reasons) == sorted(expected)
    async with federation.client(TOKYO) as client:
        listing = (await client.get("/dead-letters")).text
    assert bad_code not in listing
    assert "長長長" not in listing
    assert "新宿 一郎" not in listing


async def test_no_node_reaches_another_nodes_consumer(federation: LocalFederation) -> None:
    """千代田区, a running node, aims every JetStream API and acknowledgement subject shape
    at 新宿区's stream and consumer (holding one of its messages in flight and one
    pending): the broker refuses or routes nowhere each one; 新宿区 still gets both."""
    async with party(federation, CHIYODA) as attacker, party(federation, SHINJUKU) as victim:
        sub = await victim.js.pull_subscribe_bind(durable=CONSUMER, stream=stream_name(SHINJUKU))
        await drain(victim, sub)
        for shape in SHAPES:
            await attack_round(shape, attacker, victim, sub, sender=attacker)
        await sub.unsubscribe()


async def shinjuku_channel_at_tokyo(fed: LocalFederation) -> int:
    rows = await query(
        fed, TOKYO, "SELECT last_sequence FROM inbox_channels WHERE sender = :s", s=SHINJUKU.uri
    )
    return int(rows[0][0]) if rows else 0


async def test_a_message_refused_for_time_takes_its_place_and_a_forged_one_does_not(
    federation: LocalFederation, personal_data: PersonalData, tmp_path: Path
) -> None:
    """Tokyo is down longer than the messages' lifetime. Shinjuku's channel then holds: a
    message already expired when stored, a forgery, a good change, a change signed by a
    key revoked before it was stored (its iat backdated to before the revocation), and
    another good change. Back up, Tokyo applies both good changes (judged when stored),
    dead-letters the expired and the revoked one in their places and the forgery outside
    the sequence; the channel then flows on."""
    layout = federation.layout
    ca = CertificateAuthority.load(layout.ca_dir)
    first = await shinjuku_channel_at_tokyo(federation) + 1
    before, dead_before = await record_count(federation), len(await dead_letter_reasons(federation))
    short = dt.timedelta(seconds=5)
    genuine = sealer(layout, SHINJUKU)
    good = [change(), change()]
    personal_data.add(*(g["record"]["resident_code"] for g in good))
    for g in good:
        await designate_here(federation, g["record"]["resident_code"])

    def sealed(s: Sealer, sequence: int, item: dict[str, Any], ttl: dt.timedelta) -> str:
        return s.seal(audience=TOKYO, type=CHANGE_BATCH, payload={"items": [item]},
                      sequence=sequence, ttl=ttl).token  # fmt: skip

    then = PkiLayout(tmp_path / "then")
    then.issue(ca, SHINJUKU, validity=dt.timedelta(days=1), now=utcnow() - dt.timedelta(hours=3))
    two_hours_ago = sealer(
        layout, SHINJUKU, keys=then, clock=lambda: utcnow() - dt.timedelta(hours=2)
    )
    revoked_at = utcnow() - dt.timedelta(minutes=1)
    gone = PkiLayout(tmp_path / "gone")
    gone.issue(ca, SHINJUKU, validity=dt.timedelta(days=1), now=utcnow() - dt.timedelta(hours=1))
    revoke(layout.revocations, [read_certificate(gone.node_dir(SHINJUKU) / "sign.crt")],
           revoked_at)  # fmt: skip
    backdating = sealer(
        layout, SHINJUKU, keys=gone, clock=lambda: revoked_at - dt.timedelta(minutes=1)
    )
    forger = sealer(layout, CHIYODA, claimed=SHINJUKU)

    federation.nodes[TOKYO].stop()
    shinjuku = Speaker(federation, SHINJUKU)
    await shinjuku.publish(sealed(two_hours_ago, first, change(), dt.timedelta(minutes=30)))
    await shinjuku.publish(sealed(forger, first + 1, change(), TTL))
    await shinjuku.publish(sealed(genuine, first + 1, good[0], short))
    await shinjuku.publish(sealed(backdating, first + 2, change(), TTL))
    await shinjuku.publish(sealed(genuine, first + 3, good[1], short))
    stored_by = utcnow()

    async def lifetime_over() -> bool:  # Tokyo stays down longer than the lifetime
        return utcnow() > stored_by + short + dt.timedelta(seconds=3)

    await eventually(lifetime_over, seconds=30)
    federation.nodes[TOKYO].start()
    await federation.nodes[TOKYO].wait_ready()

    async def channel_moved_on() -> bool:
        return await shinjuku_channel_at_tokyo(federation) == first + 3

    await eventually(channel_moved_on, seconds=60)
    assert await record_count(federation) == before + 2
    for g in good:
        assert await tier_record(federation, TOKYO, g["record"]["resident_code"]) is not None
    reasons = await dead_letter_reasons(federation)
    assert sorted(reasons[: len(reasons) - dead_before]) == [
        "message_expired", "signer_not_issuer", "signer_revoked",
    ]  # fmt: skip
    # and the channel is not stuck: the next change is applied
    last = change()
    personal_data.add(last["record"]["resident_code"])
    await designate_here(federation, last["record"]["resident_code"])
    await shinjuku.publish(sealed(genuine, first + 4, last, TTL))

    async def applied() -> bool:
        return await record_count(federation) == before + 3

    await eventually(applied, seconds=30)


async def designate_here(fed: LocalFederation, code: str) -> None:
    """Tell Tokyo the code is Shinjuku's, as Shinjuku's (unstarted) pool would have."""
    await execute(
        fed, TOKYO,
        "INSERT INTO code_designations (code, municipality, source, recorded_at) "
        "VALUES (:c, :m, 'pool', :t)", c=code, m=SHINJUKU.code, t=utcnow(),
    )  # fmt: skip


async def dead_letters_of(fed: LocalFederation, node: Principal, message_id: str) -> list[Any]:
    async with fed.client(node) as client:
        r = await client.get("/dead-letters")
    r.raise_for_status()
    return [(d["reason"], d["subject_sender"]) for d in r.json() if d["message_id"] == message_id]


async def test_a_code_never_designated_to_the_town_is_refused_at_every_tier(
    federation: LocalFederation, personal_data: PersonalData
) -> None:
    """Shinjuku records a birth under a code nobody was designated, and one under a code
    the agency designated to Chiyoda: Tokyo and the agency each refuse both changes as
    code_not_designated, store neither, and dead-letter each with its origin."""
    speaker, s = Speaker(federation, SHINJUKU), sealer(federation.layout, SHINJUKU)
    await federation.wait_for_codes(CHIYODA)
    pooled = await query(
        federation, CHIYODA, "SELECT code FROM code_pool WHERE drawn_at IS NULL LIMIT 1"
    )
    invented, chiyodas = generate_resident_code(), str(pooled[0][0])
    personal_data.add(invented, chiyodas)
    rows = await query(
        federation, TOKYO, "SELECT last_sequence FROM inbox_channels WHERE sender = :s",
        s=SHINJUKU.uri,
    )  # fmt: skip
    sealed = s.seal(
        audience=TOKYO, type=CHANGE_BATCH, payload={"items": [change(invented), change(chiyodas)]},
        sequence=(rows[0][0] if rows else 0) + 1, ttl=TTL,
    )  # fmt: skip
    await speaker.publish(sealed.token)
    refused = [("code_not_designated", SHINJUKU.code)] * 2

    async def refused_at_both() -> bool:
        here = [await dead_letters_of(federation, n, sealed.message_id) for n in (TOKYO, AGENCY)]
        return here == [refused, refused]

    await eventually(refused_at_both, seconds=60)
    for node in (TOKYO, AGENCY):
        for code in (invented, chiyodas):
            assert await tier_record(federation, node, code) is None


async def test_no_personal_data_reached_any_log(
    federation: LocalFederation, personal_data: PersonalData
) -> None:
    personal_data.add("新宿 一郎", "東京都新宿区西新宿二丁目8番1号")
    assert personal_data.leaks(federation.root / "log") == []


@pytest.fixture(scope="module")
def federation(own_federation: LocalFederation) -> LocalFederation:
    """This module's own federation (its RUN_NODES and EXTRA_ENV)."""
    return own_federation
