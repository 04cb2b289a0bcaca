"""転出届の特例 on a real federation, both backends, across prefectures: a resident of
Hiratsuka (神奈川県) files the move-out online with their card; Hiratsuka records the 転出
and sends the 転出証明書情報 to Chiyoda (東京都), sealed to it; Chiyoda's clerk sees it
pending and records the 転入 from it — code, 個人番号 and previous address as the
certificate states them — and the tiers hand the record over on that move-out. Hostile
and late paths: a card not issued, a forged or tampered signature, another town's filing,
a stale one, a replay; an expired certificate; a certificate sent to the wrong town or by
a town that does not hold the person."""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest

from jukinet.contracts.identity import ChangeReason, IdentityRecord, Sex
from jukinet.contracts.moveout import MOVE_OUT_CERTIFICATE_BATCH, MoveOutCertificate
from jukinet.contracts.principals import Principal
from jukinet.contracts.residentcard import ResidentCard
from jukinet.contracts.subjects import inbox_prefix, message_subject
from jukinet.devtools.localfed import LocalFederation
from jukinet.devtools.synthetic import SyntheticResidents
from jukinet.envelope import RecipientDirectory, Sealer
from jukinet.pki import Credentials, TrustStore, read_certificate
from tests.federation.isolation import dead_letter_mark, dead_letters_since, reserve_sequence
from tests.federation.support import PersonalData, eventually, execute, query
from tests.federation.test_individual_numbers import numbered
from tests.federation.test_propagation import register
from tests.principals import AGENCY, CHIYODA, HIRATSUKA, KANAGAWA, YOKOHAMA

pytestmark = [pytest.mark.federation, pytest.mark.asyncio(loop_scope="session")]

TODAY = dt.datetime.now(dt.UTC).date()
NEW_ADDRESS = "東京都千代田区丸の内二丁目7番3号"
NAHA = "472018"  # a valid code, but no town of this network: nothing can be sealed to it


async def _carded(
    fed: LocalFederation, pd: PersonalData, tmp_path: Path, seed: int
) -> tuple[dict[str, Any], ResidentCard]:
    """A resident of Hiratsuka, their number known, holding a card handed over there."""
    card = ResidentCard.create(tmp_path / f"card-{seed}.key")
    async with fed.client(HIRATSUKA) as town:
        person = await register(town, SyntheticResidents(seed).registration(HIRATSUKA.code), pd)
        person["individual_number"] = await numbered(town, person["id"])
        r = await town.post(f"/residents/{person['id']}/card", json={"public_key": card.public_key})
    assert r.status_code == 201, r.text
    pd.add(person["individual_number"])
    return person, card


def _filing(card: ResidentCard, person: dict[str, Any], **changed: Any) -> str:
    facts: dict[str, Any] = {
        "town": HIRATSUKA.code, "resident_code": person["resident_code"], "planned_on": TODAY,
        "destination_municipality": CHIYODA.code, "destination_address": NEW_ADDRESS,
        "visit_on": TODAY + dt.timedelta(days=3),
    }  # fmt: skip
    return card.move_out(**(facts | changed))


async def _file(fed: LocalFederation, filing: str, town: Principal = HIRATSUKA) -> httpx.Response:
    async with httpx.AsyncClient(base_url=fed.nodes[town].url, timeout=30.0) as anyone:
        return await anyone.post("/move-outs/online", json={"filing": filing})


async def _incoming(fed: LocalFederation, notice_id: str) -> dict[str, Any]:
    found: dict[str, Any] = {}

    async def arrived() -> bool:
        async with fed.client(CHIYODA) as town:
            listed = (await town.get("/move-outs/incoming", params={"all": "true"})).json()
        found.update(next((n for n in listed if n["notice_id"] == notice_id), {}))
        return bool(found)

    await eventually(arrived)
    return found


def _move_in(notice: dict[str, Any], **changed: Any) -> dict[str, Any]:
    return {
        "move_out_notice_id": notice["notice_id"], "name": notice["name"],
        "name_kana": notice["name_kana"], "birth_date": notice["birth_date"],
        "sex": notice["sex"], "address": NEW_ADDRESS, "reason": "move_in",
        "change_date": TODAY.isoformat(), "notified_on": TODAY.isoformat(), **changed,
    }  # fmt: skip


async def test_an_online_move_out_becomes_a_move_in_at_the_new_town_across_prefectures(
    federation: LocalFederation, personal_data: PersonalData, tmp_path: Path
) -> None:
    person, card = await _carded(federation, personal_data, tmp_path, seed=9301)
    filing = _filing(card, person)
    accepted = await _file(federation, filing)
    assert accepted.status_code == 202, accepted.text
    notice = await _incoming(federation, accepted.json()["notice_id"])
    assert (notice["status"], notice["from_municipality"]) == ("pending", HIRATSUKA.code)
    assert (notice["resident_code"], notice["next_address"]) == (person["resident_code"],
                                                                 NEW_ADDRESS)  # fmt: skip
    async with federation.client(HIRATSUKA) as old:
        left = (await old.get(f"/residents/{person['id']}")).json()
    assert (left["status"], left["change_reason"]) == ("deleted", "move_out")
    assert left["next_municipality"] == CHIYODA.code
    replayed = await _file(federation, filing)
    async with federation.client(CHIYODA) as new:
        moved = await new.post("/residents", json=_move_in(notice))
        assert moved.status_code == 201, moved.text
        again = await new.post("/residents", json=_move_in(notice))
        pending = (await new.get("/move-outs/incoming")).json()
    assert (replayed.status_code, replayed.json()["type"]) == (
        409, "https://jukinet.example/problems/filing-replayed")  # fmt: skip
    arrived = moved.json()
    assert arrived["resident_code"] == person["resident_code"]  # the certificate's
    assert arrived["individual_number"] == person["individual_number"]
    assert (arrived["previous_address"], arrived["previous_municipality"]) == (
        person["address"], HIRATSUKA.code)  # fmt: skip
    assert (again.status_code, again.json()["reason"]) == (409, "used")
    assert notice["notice_id"] not in {n["notice_id"] for n in pending}
    await _handed_over(federation, person["resident_code"])
    cards = await query(federation, CHIYODA, "SELECT resident_id, revoked_at FROM "
                        "resident_cards WHERE public_key = :k", k=card.public_key)  # fmt: skip
    assert [tuple(c) for c in cards] == [(arrived["id"], None)]  # the card lives on


async def _handed_over(fed: LocalFederation, code: str) -> None:
    async def there() -> bool:
        held = []
        for node in (KANAGAWA, AGENCY):
            rows = await query(fed, node, "SELECT municipality, status FROM identity_records "
                               "WHERE resident_code = :c", c=code)  # fmt: skip
            held.append(tuple(rows[0]) if rows else None)
        # the old prefecture keeps the closed copy; the agency holds it for the new town
        return held == [(HIRATSUKA.code, "deleted"), (CHIYODA.code, "live")]

    await eventually(there)


def _tampered(filing: str) -> str:
    header, payload, signature = filing.split(".")
    facts = json.loads(base64.urlsafe_b64decode(payload + "=="))
    facts["destination_address"] = "東京都千代田区永田町一丁目7番1号"
    forged = base64.urlsafe_b64encode(json.dumps(facts).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


async def test_only_the_holders_fresh_card_signature_for_this_town_moves_them_out(
    federation: LocalFederation, personal_data: PersonalData, tmp_path: Path
) -> None:
    person, card = await _carded(federation, personal_data, tmp_path, seed=9302)
    other, other_card = await _carded(federation, personal_data, tmp_path, seed=9303)
    stranger = ResidentCard.create(tmp_path / "never-issued.key")
    nested = base64.urlsafe_b64encode(b"[" * 1500).decode().rstrip("=")  # JSON too deep
    attempts = {
        "not_a_filing": "this.is-not-a.signed-filing",
        "deeply nested": f"{nested}.e30.AAAA",
        "unknown_card": _filing(stranger, person),
        "bad_signature": _tampered(_filing(card, person)),
        "not_this_town": _filing(card, person, town=YOKOHAMA.code),
        "not_the_holder": _filing(other_card, person),
        "stale": _filing(card, person, now=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)),
        "unknown_destination": _filing(card, person, destination_municipality=NAHA),
        "planned_out_of_range": _filing(
            card,
            person,
            planned_on=TODAY + dt.timedelta(days=20),
            visit_on=TODAY + dt.timedelta(days=21),
        ),
    }
    for reason, filing in attempts.items():
        r = await _file(federation, filing)
        assert r.json().get("reason") == reason.replace("deeply nested", "not_a_filing"), r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.status_code == (401 if reason in ("not_a_filing", "deeply nested",
                                                   "unknown_card", "bad_signature") else 422)  # fmt: skip
    async with federation.client(HIRATSUKA) as town:
        for who in (person, other):
            assert (await town.get(f"/residents/{who['id']}")).json()["status"] == "live"
    filed = await query(federation, HIRATSUKA, "SELECT count(*) FROM online_move_outs "
                        "WHERE resident_id IN (:a, :b)", a=person["id"], b=other["id"])  # fmt: skip
    assert filed[0][0] == 0  # nothing recorded, nothing sent


async def test_an_expired_certificate_serves_no_move_in(
    federation: LocalFederation, personal_data: PersonalData, tmp_path: Path
) -> None:
    person, card = await _carded(federation, personal_data, tmp_path, seed=9304)
    accepted = await _file(federation, _filing(card, person))
    assert accepted.status_code == 202, accepted.text
    notice = await _incoming(federation, accepted.json()["notice_id"])
    await execute(federation, CHIYODA, "UPDATE incoming_move_outs SET valid_until = :d "
                  "WHERE notice_id = :n", d=TODAY - dt.timedelta(days=1),
                  n=notice["notice_id"])  # fmt: skip
    async with federation.client(CHIYODA) as new:
        pending = (await new.get("/move-outs/incoming")).json()
        late = await new.post("/residents", json=_move_in(notice))
        listed = (await new.get("/move-outs/incoming", params={"all": "true"})).json()
    assert notice["notice_id"] not in {n["notice_id"] for n in pending}
    assert (late.status_code, late.json()["reason"]) == (409, "expired")
    assert {n["notice_id"]: n["status"] for n in listed}[notice["notice_id"]] == "expired"


@pytest.mark.parametrize(
    ("sender", "recipient", "reason"),
    [(HIRATSUKA, YOKOHAMA, "wrong_town"), (YOKOHAMA, CHIYODA, "foreign_certificate")],
    ids=["sent-to-the-wrong-town", "sent-by-a-town-that-never-held-them"],
)
async def test_a_certificate_is_kept_only_from_the_old_town_by_the_destination(
    federation: LocalFederation, sender: Principal, recipient: Principal, reason: str
) -> None:
    certificate = MoveOutCertificate(
        notice_id="ab" * 16,
        record=IdentityRecord(
            resident_code="12345678903", municipality=HIRATSUKA.code, name="転出 太郎",
            birth_date=dt.date(1980, 4, 1), sex=Sex.MALE, address="神奈川県平塚市浅間町1-1",
            change_reason=ChangeReason.MOVE_OUT, change_date=TODAY,
        ),
        next_municipality=CHIYODA.code, next_address=NEW_ADDRESS,
        visit_on=TODAY, valid_until=TODAY + dt.timedelta(days=30),
    )  # fmt: skip
    mark = await dead_letter_mark(federation, recipient)
    await _send_as(federation, sender, recipient, certificate)

    async def refused() -> bool:
        seen = await dead_letters_since(federation, recipient, mark)
        return reason in [d["reason"] for d in seen]

    await eventually(refused, seconds=30)
    kept = await query(federation, recipient, "SELECT count(*) FROM incoming_move_outs "
                       "WHERE notice_id = :n", n=certificate.notice_id)  # fmt: skip
    assert kept[0][0] == 0


async def _send_as(
    fed: LocalFederation, sender: Principal, recipient: Principal, c: MoveOutCertificate
) -> None:
    layout = fed.layout
    sequence = await reserve_sequence(fed, sender, recipient)
    creds = Credentials.load(layout.node_dir(sender), layout.ca_cert, sender)
    trust = TrustStore(read_certificate(layout.ca_cert))
    sealer = Sealer(creds, RecipientDirectory.from_layout(layout, trust))
    token = sealer.seal(audience=recipient, type=MOVE_OUT_CERTIFICATE_BATCH,
                        payload={"items": [c.model_dump(mode="json")]}, sequence=sequence,
                        ttl=dt.timedelta(hours=1)).token  # fmt: skip
    nc = await nats.connect(servers=[fed.nats_url], tls=fed.tls(sender), tls_hostname="localhost",
                            inbox_prefix=inbox_prefix(sender), allow_reconnect=False)  # fmt: skip
    try:
        await nc.jetstream().publish(message_subject(recipient, sender), token.encode(), timeout=5)
    finally:
        await nc.close()


async def test_a_move_out_at_the_counter_voids_the_card(
    federation: LocalFederation, personal_data: PersonalData, tmp_path: Path
) -> None:
    """A move-out at the counter closes the record: its card signs nothing more here (a
    card signs for a resident of this town)."""
    person, card = await _carded(federation, personal_data, tmp_path, seed=9305)
    async with federation.client(HIRATSUKA) as town:
        left = await town.post(f"/residents/{person['id']}/changes", json={
            "reason": "move_out", "change_date": TODAY.isoformat(),
            "notified_on": TODAY.isoformat(), "next_address": NEW_ADDRESS})  # fmt: skip
        assert left.status_code == 200, left.text
    r = await _file(federation, _filing(card, person))
    assert (r.status_code, r.json().get("reason")) == (401, "unknown_card")
    revoked = await query(federation, HIRATSUKA, "SELECT revoked_at FROM resident_cards "
                          "WHERE public_key = :k", k=card.public_key)  # fmt: skip
    assert revoked[0][0] is not None
