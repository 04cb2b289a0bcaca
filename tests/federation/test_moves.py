"""Moves between municipalities: the old town records the move-out (転出届), the new town
the move-in, and notifies the old one (転入通知), which confirms it; every tier ends with
one live record and a history that shows the move — within a prefecture and across
prefectures, on both backends, in either order of arrival. A move-in without a move-out
on file takes nothing over: the old town's record and every tier's copy of it stay."""

from __future__ import annotations

import datetime as dt
from typing import Any

import nats
import pytest

from jukinet.contracts.identity import CHANGE_MESSAGE_TYPE
from jukinet.contracts.ids import generate_resident_code
from jukinet.contracts.principals import Principal
from jukinet.contracts.subjects import inbox_prefix, message_subject
from jukinet.devtools.localfed import LocalFederation
from jukinet.devtools.synthetic import SyntheticResidents
from jukinet.envelope import FORWARD_TYPE, RecipientDirectory, Sealer
from jukinet.pki import Credentials, TrustStore, read_certificate
from jukinet.reconcile.driver import reconcile_federation
from tests.federation.isolation import (
    dead_letter_mark,
    dead_letters_since,
    metric,
    reserve_sequence,
)
from tests.federation.support import PersonalData, eventually, query, tier_record
from tests.principals import AGENCY, CHIYODA, HIRATSUKA, KANAGAWA, TOKYO, YOKOHAMA

pytestmark = [pytest.mark.federation, pytest.mark.asyncio(loop_scope="session")]
# The module's own federation (for the tests that stop a prefecture): messages queued for
# a prefecture while it was down are taken in one fetch, however loaded the machine is,
# so that they are forwarded together (the forward those tests are about).
EXTRA_ENV = {"JUKINET_PREFECTURE_INBOX_DRAIN_SECONDS": "1.0"}

TODAY = dt.datetime.now(dt.UTC).date().isoformat()


async def register(
    fed: LocalFederation, town: Principal, body: dict[str, Any], pd: PersonalData
) -> dict[str, Any]:
    pd.add_body(body)
    async with fed.client(town) as client:
        r = await client.post("/residents", json=body)
    assert r.status_code == 201, r.text
    pd.add(r.json()["resident_code"])
    return dict(r.json())


async def resident(fed: LocalFederation, town: Principal, rid: str) -> dict[str, Any]:
    async with fed.client(town) as client:
        r = await client.get(f"/residents/{rid}")
    r.raise_for_status()
    return dict(r.json())


record = tier_record


async def known_upstream(fed: LocalFederation, person: dict[str, Any]) -> None:
    """Wait until the agency holds the person's record, so that the move follows the
    registration upstream. Otherwise a loaded machine (or a backlog other modules left
    at the old town's prefecture) can deliver the move first, which is a case of its
    own (test_a_move_in_overtaking_the_old_towns_record_takes_nothing_over)."""
    code = person["resident_code"]
    await eventually(lambda: has_record(fed, AGENCY, code), seconds=60)


async def move_out(
    fed: LocalFederation, town: Principal, person: dict[str, Any], to: dict[str, Any]
) -> None:
    """File the person's move-out (転出届) at ``town``, to the move-in body ``to``."""
    body = {
        "reason": "move_out", "change_date": TODAY, "notified_on": TODAY,
        "next_address": to["address"], "next_municipality": to["new_municipality"],
    }  # fmt: skip
    async with fed.client(town) as client:
        r = await client.post(f"/residents/{person['id']}/changes", json=body)
    assert r.status_code == 200, r.text


def move_in(
    person: dict[str, Any], town: Principal, came_from: Principal, people: SyntheticResidents
) -> dict[str, Any]:
    fields = ("name", "name_kana", "birth_date", "sex")
    return {
        **{f: person[f] for f in fields},
        "address": people.address(town.code),
        "reason": "move_in",
        "change_date": TODAY,
        "notified_on": TODAY,
        "previous_address": person["address"],
        "previous_municipality": came_from.code,
        "resident_code": person["resident_code"],
        "new_municipality": town.code,  # where the move-out points; not part of the body
    }


async def arrive(
    fed: LocalFederation, town: Principal, body: dict[str, Any], pd: PersonalData
) -> dict[str, Any]:
    return await register(fed, town, {k: v for k, v in body.items() if k != "new_municipality"}, pd)


async def moved(
    fed: LocalFederation,
    old: Principal,
    new: Principal,
    person: dict[str, Any],
    arrived: dict[str, Any],
) -> None:
    """Wait until the old town closed the record and the new one's record is upstream."""
    code = person["resident_code"]

    async def settled() -> bool:
        closed = await resident(fed, old, person["id"])
        if closed["status"] != "deleted":
            return False
        upstream = [await record(fed, n, code) for n in (new.prefecture_of, AGENCY)]
        old_tier = await record(fed, old.prefecture_of, code)
        return (
            all(v is not None and v["record"]["municipality"] == new.code for v in upstream)
            and old_tier is not None
            and any(h["record"]["change_reason"] == "move_out" for h in old_tier["history"])
        )

    await eventually(settled, seconds=60)


@pytest.mark.parametrize(
    ("old", "new"),
    [(HIRATSUKA, YOKOHAMA), (CHIYODA, HIRATSUKA)],
    ids=["within-kanagawa", "tokyo-to-kanagawa"],
)
async def test_a_move_leaves_every_tier_consistent(
    federation: LocalFederation, personal_data: PersonalData, old: Principal, new: Principal
) -> None:
    people = SyntheticResidents(seed=int(old.code) + int(new.code))
    person = await register(federation, old, people.registration(old.code), personal_data)
    await known_upstream(federation, person)
    body = move_in(person, new, old, people)
    personal_data.add_body(body)
    await move_out(federation, old, person, body)
    arrived = await arrive(federation, new, body, personal_data)
    assert arrived["resident_code"] == person["resident_code"]  # the person keeps the code
    await moved(federation, old, new, person, arrived)

    closed = await resident(federation, old, person["id"])
    assert closed["change_reason"] == "move_out"
    assert closed["next_municipality"] == new.code
    assert closed["next_address"] == arrived["address"]
    code = person["resident_code"]
    for node in {new.prefecture_of, AGENCY}:
        view = await record(federation, node, code)
        assert view is not None
        assert view["status"] == "live"
        assert view["record"]["municipality"] == new.code
        assert view["record"]["address"] == arrived["address"]
        steps = [(h["municipality"], h["record"]["change_reason"]) for h in view["history"]]
        if node == AGENCY or new.prefecture_of == old.prefecture_of:
            assert steps[0] == (old.code, "birth")  # then both, in the order they arrived
            assert sorted(steps[1:]) == sorted([(new.code, "move_in"), (old.code, "move_out")])
        else:
            assert steps == [(new.code, "move_in")]
        live = await query(
            federation, node,
            "SELECT count(*) FROM identity_records WHERE resident_code = :c AND status = 'live'",
            c=code,
        )  # fmt: skip
        assert live[0][0] == 1
    if old.prefecture_of != new.prefecture_of:  # the old prefecture keeps the closed copy
        view = await record(federation, old.prefecture_of, code)
        assert view is not None
        assert (view["status"], view["record"]["municipality"]) == ("deleted", old.code)
        assert view["record"]["change_reason"] == "move_out"


async def test_moving_back_reopens_the_old_record(
    federation: LocalFederation, personal_data: PersonalData
) -> None:
    people = SyntheticResidents(seed=77)
    person = await register(federation, YOKOHAMA, people.registration(YOKOHAMA.code), personal_data)
    await known_upstream(federation, person)
    leaving = move_in(person, HIRATSUKA, YOKOHAMA, people)
    await move_out(federation, YOKOHAMA, person, leaving)
    away = await arrive(federation, HIRATSUKA, leaving, personal_data)
    await moved(federation, YOKOHAMA, HIRATSUKA, person, away)
    home_again = move_in({**away, "address": away["address"]}, YOKOHAMA, HIRATSUKA, people)
    personal_data.add_body(home_again)
    await move_out(federation, HIRATSUKA, away, home_again)
    back = await arrive(federation, YOKOHAMA, home_again, personal_data)
    assert back["id"] == person["id"]  # one person, one record and history per town
    assert back["version"] == 3
    await moved(federation, HIRATSUKA, YOKOHAMA, away, back)
    view = await record(federation, AGENCY, person["resident_code"])
    assert view is not None
    assert view["record"]["municipality"] == YOKOHAMA.code
    assert view["status"] == "live"


async def refused_since(fed: LocalFederation, node: Principal, mark: int) -> list[str]:
    """The reasons of the node's dead letters after ``mark`` (other modules' are older)."""
    return [d["reason"] for d in await dead_letters_since(fed, node, mark)]


async def test_a_notice_about_an_unknown_resident_is_rejected(
    federation: LocalFederation, personal_data: PersonalData
) -> None:
    people = SyntheticResidents(seed=78)
    stranger = {**people.registration(HIRATSUKA.code), "resident_code": generate_resident_code()}
    stranger["address"] = "東京都千代田区どこか1-1"
    stranger["id"] = "0" * 32
    body = move_in(stranger, YOKOHAMA, CHIYODA, people)
    personal_data.add_body(body)
    mark = await dead_letter_mark(federation, CHIYODA)
    await arrive(federation, YOKOHAMA, body, personal_data)

    async def refused() -> bool:
        return "unknown_resident" in await refused_since(federation, CHIYODA, mark)

    await eventually(refused, seconds=30)


async def test_a_notice_about_another_person_closes_nothing(
    federation: LocalFederation, personal_data: PersonalData
) -> None:
    """A clerk typed the code of someone else: the old town refuses to close that
    person's record, and no tier hands it over."""
    people = SyntheticResidents(seed=80)
    person = await register(
        federation, HIRATSUKA, people.registration(HIRATSUKA.code), personal_data
    )
    await known_upstream(federation, person)
    other = people.registration(YOKOHAMA.code)
    typo = move_in({**other, "resident_code": person["resident_code"], "address": "x"},
                   YOKOHAMA, HIRATSUKA, people)  # fmt: skip
    typo["birth_date"] = "1950-01-01" if person["birth_date"] != "1950-01-01" else "1951-01-01"
    personal_data.add_body(typo)
    mark = await dead_letter_mark(federation, HIRATSUKA)
    await arrive(federation, YOKOHAMA, typo, personal_data)

    async def refused() -> bool:
        return "identity_mismatch" in await refused_since(federation, HIRATSUKA, mark)

    await eventually(refused, seconds=30)
    assert (await resident(federation, HIRATSUKA, person["id"]))["status"] == "live"
    for node in (KANAGAWA, AGENCY):
        view = await record(federation, node, person["resident_code"])
        assert view is not None
        assert view["record"]["municipality"] == HIRATSUKA.code


async def test_a_notice_from_a_node_that_is_not_a_municipality_is_rejected(
    federation: LocalFederation, personal_data: PersonalData
) -> None:
    people = SyntheticResidents(seed=79)
    person = await register(
        federation, HIRATSUKA, people.registration(HIRATSUKA.code), personal_data
    )
    layout = federation.layout
    # the prefecture may write to its towns (disclosure answers), but sends no notices;
    # the number is taken from Kanagawa's own channel, which goes on after it
    sequence = await reserve_sequence(federation, KANAGAWA, HIRATSUKA)
    creds = Credentials.load(layout.node_dir(KANAGAWA), layout.ca_cert, KANAGAWA)
    trust = TrustStore(read_certificate(layout.ca_cert))
    sealer = Sealer(creds, RecipientDirectory.from_layout(layout, trust))
    notice = {
        "resident_code": person["resident_code"], "moved_on": TODAY,
        "new_municipality": YOKOHAMA.code, "new_address": "神奈川県横浜市中区1-1",
    }  # fmt: skip
    token = sealer.seal(
        audience=HIRATSUKA, type="move_in.notice.batch", payload={"items": [notice]}, sequence=sequence,
        ttl=dt.timedelta(hours=1),
    ).token  # fmt: skip
    mark = await dead_letter_mark(federation, HIRATSUKA)
    nc = await nats.connect(
        servers=[federation.nats_url], tls=federation.tls(KANAGAWA), tls_hostname="localhost",
        inbox_prefix=inbox_prefix(KANAGAWA), allow_reconnect=False,
    )  # fmt: skip
    try:
        subject = message_subject(HIRATSUKA, KANAGAWA)
        await nc.jetstream().publish(subject, token.encode(), timeout=5)
    finally:
        await nc.close()

    async def refused() -> bool:
        return "not_a_municipality" in await refused_since(federation, HIRATSUKA, mark)

    await eventually(refused, seconds=30)
    still = await resident(federation, HIRATSUKA, person["id"])
    assert still["status"] == "live"


async def held_at(fed: LocalFederation, node: Principal, code: str, town: Principal) -> bool:
    """Whether ``node`` has received ``town``'s move-in of ``code`` (in its history)."""
    view = await record(fed, node, code)
    return view is not None and any(
        (h["municipality"], h["record"]["change_reason"]) == (town.code, "move_in")
        for h in view["history"]
    )


@pytest.mark.parametrize(
    ("old", "new"),
    [(HIRATSUKA, YOKOHAMA), (CHIYODA, YOKOHAMA)],
    ids=["within-kanagawa", "tokyo-to-kanagawa"],
)
async def test_a_move_in_without_a_move_out_takes_nothing_over(
    federation: LocalFederation, personal_data: PersonalData, old: Principal, new: Principal
) -> None:
    """A clerk records a move-in naming the person's town, birth date and sex — all of it
    readable from one nationwide copy — for someone who never filed a move-out: the old
    town refuses the notice, its record stays live, and the old tiers keep it."""
    people = SyntheticResidents(seed=int(old.code) + 91)
    person = await register(federation, old, people.registration(old.code), personal_data)
    await known_upstream(federation, person)
    body = move_in(person, new, old, people)
    personal_data.add_body(body)
    mark = await dead_letter_mark(federation, old)
    await arrive(federation, new, body, personal_data)
    code = person["resident_code"]

    async def refused() -> bool:
        reasons = await refused_since(federation, old, mark)
        return "no_move_out" in reasons and await held_at(federation, AGENCY, code, new)

    await eventually(refused, seconds=60)
    if new.prefecture_of == old.prefecture_of:
        await eventually(lambda: held_at(federation, KANAGAWA, code, new), seconds=30)
    still = await resident(federation, old, person["id"])
    assert (still["status"], still["change_reason"]) == ("live", "birth")
    for node in (old.prefecture_of, AGENCY):
        view = await record(federation, node, code)
        assert view is not None
        assert (view["status"], view["record"]["municipality"]) == ("live", old.code)
        assert view["record"]["address"] == person["address"]


async def test_a_move_in_overtaking_the_old_towns_record_takes_nothing_over(
    own_federation: LocalFederation, personal_data: PersonalData
) -> None:
    """Tokyo is down while Chiyoda records a birth; Yokohama records a move-in of that
    person naming Chiyoda, which reaches the agency first. The agency holds it as
    history; when Chiyoda's record arrives, Chiyoda holds the person, not Yokohama.
    (Tokyo is stopped: this runs on the module's own federation, not the shared one.)"""
    federation = own_federation
    people = SyntheticResidents(seed=94)
    federation.nodes[TOKYO].stop()
    try:
        person = await register(
            federation, CHIYODA, people.registration(CHIYODA.code), personal_data
        )
        body = move_in(person, YOKOHAMA, CHIYODA, people)
        personal_data.add_body(body)
        await arrive(federation, YOKOHAMA, body, personal_data)
        code = person["resident_code"]

        async def held() -> bool:
            rows = await query(
                federation, AGENCY,
                "SELECT count(*) FROM identity_history WHERE resident_code = :c AND "
                "municipality = :m", c=code, m=YOKOHAMA.code,
            )  # fmt: skip
            return bool(rows[0][0])

        await eventually(held, seconds=60)
        assert await record(federation, AGENCY, code) is None  # held, not current
    finally:
        federation.nodes[TOKYO].start()
        await federation.nodes[TOKYO].wait_ready()

    async def chiyodas() -> bool:
        view = await record(federation, AGENCY, code)
        return view is not None and view["record"]["municipality"] == CHIYODA.code

    await eventually(chiyodas, seconds=60)
    view = await record(federation, AGENCY, code)
    assert view is not None
    assert view["status"] == "live"


@pytest.mark.parametrize(
    ("old", "new"),
    [(HIRATSUKA, YOKOHAMA), (CHIYODA, HIRATSUKA)],
    ids=["within-kanagawa", "tokyo-to-kanagawa"],
)
async def test_a_move_out_arriving_after_the_move_in_completes_the_move(
    federation: LocalFederation, personal_data: PersonalData, old: Principal, new: Principal
) -> None:
    """The move-in reaches the prefecture and the agency first (held there), the old
    town's move-out after it: then every tier hands the record over."""
    people = SyntheticResidents(seed=int(old.code) + 92)
    person = await register(federation, old, people.registration(old.code), personal_data)
    await known_upstream(federation, person)
    body = move_in(person, new, old, people)
    personal_data.add_body(body)
    arrived = await arrive(federation, new, body, personal_data)
    code = person["resident_code"]
    await eventually(lambda: held_at(federation, AGENCY, code, new), seconds=60)
    if new.prefecture_of == old.prefecture_of:
        await eventually(lambda: held_at(federation, KANAGAWA, code, new), seconds=30)
    assert (await record(federation, AGENCY, code) or {})["record"]["municipality"] == old.code
    await move_out(federation, old, person, body)
    await moved(federation, old, new, person, arrived)
    for node in (new.prefecture_of, AGENCY):
        view = await record(federation, node, code)
        assert view is not None
        assert (view["status"], view["record"]["municipality"]) == ("live", new.code)
        assert view["record"]["address"] == arrived["address"]


async def last_item_id(fed: LocalFederation, node: Principal) -> int:
    rows = await query(fed, node, "SELECT max(id) FROM outbox_items")
    return int(rows[0][0] or 0)


async def change_sent(fed: LocalFederation, town: Principal, to: Principal, after: int) -> str:
    """The id of the sent message carrying the town's newest identity change to ``to``
    enqueued after item ``after`` ("" until it is sent): checkpoints and other kinds that
    share the channel are not it."""
    rows = await query(
        fed, town,
        "SELECT m.message_id FROM outbox_items i JOIN outbox_messages m "
        "ON m.message_id = i.message_id WHERE i.recipient = :r AND i.id > :a "
        "AND i.message_type = :t AND m.sent_at IS NOT NULL ORDER BY i.id DESC LIMIT 1",
        r=to.uri, a=after, t=CHANGE_MESSAGE_TYPE,
    )  # fmt: skip
    return str(rows[0][0]) if rows else ""


async def test_a_refused_change_leaves_another_towns_change_in_the_same_forward(
    own_federation: LocalFederation, personal_data: PersonalData
) -> None:
    """Hiratsuka records a move-in naming the wrong previous town for a code Chiyoda
    holds; Yokohama records a birth; Kanagawa forwards both in one message. The agency
    refuses Hiratsuka's change alone — dead-lettered with its reason and origin, told to
    Hiratsuka, and reported by reconciliation — and stores Yokohama's birth.
    (Kanagawa is stopped: this runs on the module's own federation, not the shared one.)"""
    federation = own_federation
    people = SyntheticResidents(seed=93)
    person = await register(federation, CHIYODA, people.registration(CHIYODA.code), personal_data)
    code = person["resident_code"]
    await eventually(lambda: has_record(federation, AGENCY, code), seconds=60)
    after = {t: await last_item_id(federation, t) for t in (HIRATSUKA, YOKOHAMA)}
    async with federation.client(AGENCY) as client:
        counted = await metric(client, "jukinet_dead_letters_total", reason="foreign_resident")
    federation.nodes[KANAGAWA].stop()
    try:
        wrong = move_in(person, HIRATSUKA, YOKOHAMA, people)  # Chiyoda holds the person
        personal_data.add_body(wrong)
        await arrive(federation, HIRATSUKA, wrong, personal_data)
        birth = await register(
            federation, YOKOHAMA, people.registration(YOKOHAMA.code), personal_data
        )

        async def both_sent() -> bool:
            sent = [await change_sent(federation, t, KANAGAWA, after[t]) for t in after]
            return all(sent)  # both in Kanagawa's stream, waiting for it

        await eventually(both_sent, seconds=30)
        origin = await change_sent(federation, HIRATSUKA, KANAGAWA, after[HIRATSUKA])
    finally:
        federation.nodes[KANAGAWA].start()
        await federation.nodes[KANAGAWA].wait_ready()
    await eventually(lambda: has_record(federation, AGENCY, birth["resident_code"]), seconds=60)
    forwards = await query(
        federation, KANAGAWA,
        "SELECT message_id FROM outbox_items WHERE recipient = :a AND message_type = :t "
        "ORDER BY id DESC LIMIT 2", a=AGENCY.uri, t=FORWARD_TYPE,
    )  # fmt: skip
    assert forwards[0][0] == forwards[1][0], "the two changes were not forwarded together"
    view = await record(federation, AGENCY, code)
    assert view is not None
    assert (view["status"], view["record"]["municipality"]) == ("live", CHIYODA.code)
    refused = [
        d for d in await dead_letters_since(federation, AGENCY, 0) if d["message_id"] == origin
    ]
    assert [(d["reason"], d["subject_sender"]) for d in refused] == [
        ("foreign_resident", HIRATSUKA.code)
    ]

    async def told() -> bool:  # the agency's signed notice reached the town's counter
        seen = [(d["reason"], d["subject_sender"], d["message_id"]) for d in
                await dead_letters_since(federation, HIRATSUKA, 0)]  # fmt: skip
        return ("foreign_resident", AGENCY.code, origin) in seen

    await eventually(told, seconds=30)
    async with federation.client(AGENCY) as client:  # and counted like any dead letter
        now = await metric(client, "jukinet_dead_letters_total", reason="foreign_resident")
    assert now > counted
    nodes = {p.uri: n.url for p, n in federation.nodes.items()}
    reports = {
        (r.municipality, r.tier): r.drift
        for r in await reconcile_federation(nodes, federation.api_token)
    }
    assert code in reports[(HIRATSUKA.code, AGENCY.code)].missing


async def has_record(fed: LocalFederation, node: Principal, code: str) -> bool:
    return await record(fed, node, code) is not None


async def test_no_personal_data_reached_any_log(
    federation: LocalFederation, personal_data: PersonalData
) -> None:
    assert personal_data.leaks(federation.root / "log") == []


async def test_no_personal_data_reached_the_own_federations_logs(
    own_federation: LocalFederation, personal_data: PersonalData
) -> None:
    assert personal_data.leaks(own_federation.root / "log") == []
