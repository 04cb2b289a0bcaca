"""The home municipality's answer to a copy request, without a broker: real envelopes
(the session's federation PKI), a real register on SQLite and PostgreSQL.

``answer_request`` is called exactly as the responder calls it for a message that arrived
on ``jukinet.copy.req.131016.<sender>`` with a reply subject, so every check that does not
need the broker is exercised here: the envelope, the sender, the payload, replays, the
search of the register, what the answer carries, and what both ledgers record.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import municipal.models
from jukinet.contracts.ids import resident_code_check_digit
from jukinet.contracts.principals import Principal
from jukinet.contracts.subjects import copy_reply_subject, copy_request_subject
from jukinet.db.engine import create_engine, session_factory
from jukinet.db.migrations import upgrade
from jukinet.envelope import Opener, RecipientDirectory, Sealed, Sealer
from jukinet.pki import Credentials, PkiLayout, TrustStore, utcnow
from municipal.copies.exchange import ExchangeFailed, read_answer
from municipal.copies.home import HomeContext, Unanswerable, answer_request
from municipal.copies.models import CopyProvision
from municipal.copies.protocol import (
    ANSWER_TTL,
    COPY_ANSWER,
    COPY_REQUEST,
    REQUEST_TTL,
    CopyAnswer,
    Refusal,
)
from municipal.models import Base, Household, Resident, operators
from tests.conftest import PG_ADMIN_URL, admin_sql, require_postgres
from tests.principals import CHIYODA, HIRATSUKA, KANAGAWA, YOKOHAMA

pytestmark = pytest.mark.asyncio(loop_scope="session")

MIGRATIONS = Path(municipal.models.__file__).parent / "migrations"
DOMICILE = "北海道札幌市中央区北一条西二丁目1番地"
FAMILY_HEAD = "川辺 源三郎"
CLERK = "spiffe://jukinet/operator/142034/tanaka"
BIRTH = dt.date(1980, 4, 1)


@pytest_asyncio.fixture(
    scope="module",
    loop_scope="session",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
async def register(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[async_sessionmaker[AsyncSession], dict[str, Resident]]]:
    """Chiyoda's database, migrated, and the people of :func:`_register` in it."""
    name = f"jukinet_c_{secrets.token_hex(5)}"
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('home') / 'node.db'}"
    else:
        await require_postgres()
        await admin_sql(f'CREATE DATABASE "{name}"')
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    engine = create_engine(url)
    try:
        await upgrade(engine, MIGRATIONS)
        factory = session_factory(engine)
        yield factory, await _register(factory)
    finally:
        await engine.dispose()
        if request.param == "postgresql":
            await admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _resident(name: str, birth: dt.date, **fields: Any) -> Resident:
    now = utcnow()
    values: dict[str, Any] = {
        "id": uuid.uuid4().hex, "resident_code": _code(), "name": name, "name_kana": None,
        "birth_date": birth, "sex": "female", "address": "東京都千代田区千代田1番1号",
        "change_reason": "birth", "change_date": birth, "status": "live", "version": 1,
        "created_at": now, "updated_at": now, "registered_domicile": DOMICILE,
        "family_register_head": FAMILY_HEAD, "relation": "世帯主",
    }  # fmt: skip
    return Resident(**(values | fields))


def _code() -> str:
    body = f"{secrets.randbelow(10**10):010d}"
    return body + str(resident_code_check_digit(body))


async def _register(sessions: async_sessionmaker[AsyncSession]) -> dict[str, Resident]:
    """A household (head, spouse, a mother who died), someone who moved out, someone
    deleted ex officio, and two live namesakes born the same day at different addresses."""
    household = uuid.uuid4().hex
    member = {"household_id": household}
    head = _resident("川辺 一郎", BIRTH, sex="male", **member)
    people = {
        "head": head,
        "spouse": _resident("川辺 静香", dt.date(1989, 1, 8), relation="妻", **member),
        "mother": _resident("川辺 梅子", dt.date(1950, 1, 1), relation="母", status="deleted",
                         change_reason="death", **member),
        "leaver": _resident("山野 健", BIRTH, status="deleted", change_reason="move_out"),
        "erased": _resident("海原 凪", BIRTH, status="deleted", change_reason="ex_officio_deletion"),
        "twin_a": _resident("佐藤 花子", BIRTH, address="東京都千代田区丸の内1丁目1番1号"),
        "twin_b": _resident("佐藤 花子", BIRTH, address="東京都千代田区丸の内2丁目2番2号"),
    }  # fmt: skip
    async with sessions() as session, session.begin():
        session.add(Household(id=household, head_id=head.id, address=head.address,
                              created_at=utcnow()))  # fmt: skip
        session.add_all(people.values())
    return people


def _credentials(layout: PkiLayout, principal: Principal) -> Credentials:
    return Credentials.load(layout.node_dir(principal), layout.ca_cert, principal)


class Counterpart:
    """Sends as any principal (from any broker user), and reads as Hiratsuka."""

    def __init__(self, layout: PkiLayout, trust: TrustStore, ctx: HomeContext) -> None:
        self.layout, self.trust, self.ctx = layout, trust, ctx
        self.directory = RecipientDirectory.from_layout(layout, trust)
        self.home_opener = Opener(_credentials(layout, CHIYODA), trust)

    def seal(
        self,
        payload: dict[str, Any],
        *,
        signer: Principal = HIRATSUKA,
        audience: Principal = CHIYODA,
        type: str = COPY_REQUEST,
        at: dt.datetime | None = None,
    ) -> Sealed:
        clock = (lambda: at) if at is not None else utcnow
        sealer = Sealer(_credentials(self.layout, signer), self.directory, clock=clock)
        sequence = secrets.randbelow(2**40) + 1
        return sealer.seal(
            audience=audience, type=type, payload=payload, sequence=sequence, ttl=REQUEST_TTL
        )

    async def ask(
        self, sealed: Sealed, *, sender: Principal = HIRATSUKA, reply_to: Principal | None = None
    ) -> tuple[Principal, CopyAnswer]:
        subject = copy_request_subject(CHIYODA, sender)
        reply = copy_reply_subject(reply_to or sender, CHIYODA, uuid.uuid4().hex)
        return await answer_request(
            self.ctx, self.home_opener, subject, reply, sealed.token.encode()
        )


@pytest.fixture
def people(register: tuple[Any, dict[str, Resident]]) -> dict[str, Resident]:
    return register[1]


@pytest.fixture
def ctx(register: tuple[async_sessionmaker[AsyncSession], Any], layout: PkiLayout) -> HomeContext:
    key, _ = _credentials(layout, CHIYODA).require_signing()
    return HomeContext(CHIYODA, register[0], "千代田区", key)


@pytest.fixture
def peer(layout: PkiLayout, trust: TrustStore, ctx: HomeContext) -> Counterpart:
    return Counterpart(layout, trust, ctx)


def request(person: dict[str, Any] | None = None, **changes: Any) -> dict[str, Any]:
    return {
        "clerk": CLERK, "clerk_role": "clerk", "purpose": "本人確認済み 転入手続き",
        "id_checked": True, "person": person or {"name": "川辺 一郎", "birth_date": "1980-04-01"},
        **changes,
    }  # fmt: skip


async def _provision(ctx: HomeContext, message_id: str) -> CopyProvision:
    async with ctx.sessions() as session:
        query = select(CopyProvision).where(CopyProvision.request_message_id == message_id)
        return (await session.scalars(query)).one()


async def _last_operation(ctx: HomeContext) -> dict[str, Any]:
    log = operators.operation_log
    async with ctx.sessions() as session:
        row = (await session.execute(select(log).order_by(log.c.seq.desc()).limit(1))).one()
    return dict(row._mapping)


# -- what is answered ---------------------------------------------------------------------


async def test_the_answer_carries_the_person_and_never_the_family_register(
    peer: Counterpart, ctx: HomeContext, people: dict[str, Resident]
) -> None:
    sealed = peer.seal(request(include_resident_code=True, include_relation=True))
    audience, answer = await peer.ask(sealed)

    assert audience == HIRATSUKA
    assert (answer.outcome, answer.in_reply_to, answer.home_name) == (
        "provided", sealed.message_id, "千代田区"
    )  # fmt: skip
    (entry,) = answer.entries
    head = people["head"]
    assert (entry.name, entry.resident_code, entry.relation) == (head.name, head.resident_code,
                                                                 "世帯主")  # fmt: skip
    assert entry.household_head == "川辺 一郎"
    wire = json.dumps(answer.model_dump(mode="json", exclude_none=True), ensure_ascii=False)
    for absent in (DOMICILE, FAMILY_HEAD, "domicile", "family_register"):
        assert absent not in wire

    provision = await _provision(ctx, sealed.message_id)
    assert (provision.requester, provision.clerk, provision.outcome) == ("142034", CLERK,
                                                                         "provided")  # fmt: skip
    assert json.loads(provision.resident_ids) == [head.id]
    assert answer.provision_id == provision.id
    operation = await _last_operation(ctx)
    assert {k: operation[k] for k in ("actor", "role", "action", "target", "outcome")} == {
        "actor": CLERK, "role": "clerk", "action": "copies.provide", "target": provision.id,
        "outcome": "ok",
    }  # fmt: skip


async def test_a_household_copy_is_every_live_member_head_first(peer: Counterpart) -> None:
    person = {"name": "川辺 静香", "birth_date": "1989-01-08"}
    _, answer = await peer.ask(peer.seal(request(person, whole_household=True)))
    assert [e.name for e in answer.entries] == ["川辺 一郎", "川辺 静香"]  # not the mother
    assert {e.household_head for e in answer.entries} == {"川辺 一郎"}
    assert all(e.relation is None and e.resident_code is None for e in answer.entries)


REFUSED = [
    pytest.param({"name": "山野 健", "birth_date": "1980-04-01"}, Refusal.MOVED_OUT, id="moved-out"),
    pytest.param({"name": "川辺 梅子", "birth_date": "1950-01-01"}, Refusal.DECEASED, id="died"),
    pytest.param({"name": "海原 凪", "birth_date": "1980-04-01"}, Refusal.DELETED, id="erased"),
    pytest.param({"name": "川辺 一郎", "birth_date": "1980-04-02"}, Refusal.NOT_FOUND,
                 id="other-birth-date"),
    pytest.param({"name": "佐藤 花子", "birth_date": "1980-04-01"}, Refusal.AMBIGUOUS,
                 id="namesakes"),
    pytest.param({"resident_code": "00000000000"}, Refusal.NOT_FOUND, id="unknown-code"),
]  # fmt: skip


@pytest.mark.parametrize(("person", "reason"), REFUSED)
async def test_no_copy_for_who_left_died_was_erased_or_is_not_found(
    peer: Counterpart, ctx: HomeContext, person: dict[str, Any], reason: Refusal
) -> None:
    sealed = peer.seal(request(person))
    _, answer = await peer.ask(sealed)
    assert (answer.outcome, answer.reason, answer.entries) == ("refused", reason, [])
    provision = await _provision(ctx, sealed.message_id)
    assert (provision.outcome, provision.reason, provision.resident_ids) == (
        "refused", reason.value, "[]"
    )  # fmt: skip
    assert (await _last_operation(ctx))["outcome"] == f"refused:{reason.value}"


async def test_an_address_as_written_on_the_id_tells_namesakes_apart(peer: Counterpart) -> None:
    stated = "東京都千代田区丸の内２丁目２番２号"  # full-width digits, as typed from a card
    person = {"name": "佐藤 花子", "birth_date": "1980-04-01", "address": stated}
    _, answer = await peer.ask(peer.seal(request(person)))
    assert [e.address for e in answer.entries] == ["東京都千代田区丸の内2丁目2番2号"]


async def test_the_code_and_the_id_must_agree(
    peer: Counterpart, people: dict[str, Resident]
) -> None:
    code = people["spouse"].resident_code
    both = {"name": "川辺 一郎", "birth_date": "1980-04-01", "resident_code": code}
    _, answer = await peer.ask(peer.seal(request(both)))
    assert answer.reason == Refusal.NOT_FOUND


# -- requests that are not what they claim ------------------------------------------------


async def test_a_replayed_request_is_refused_also_after_a_restart(
    peer: Counterpart, ctx: HomeContext, layout: PkiLayout, trust: TrustStore
) -> None:
    sealed = peer.seal(request())
    assert (await peer.ask(sealed))[1].outcome == "provided"
    restarted = Counterpart(layout, trust, HomeContext(**vars(ctx)))
    _, again = await restarted.ask(sealed)
    assert (again.reason, again.detail, again.in_reply_to) == (
        Refusal.INVALID_REQUEST, "replayed", sealed.message_id
    )  # fmt: skip
    operation = await _last_operation(ctx)
    assert (operation["actor"], operation["role"], operation["outcome"]) == (
        HIRATSUKA.uri, "anonymous", "refused:replayed"
    )  # fmt: skip


FORGED = [
    pytest.param({"signer": KANAGAWA}, {}, "not_a_municipality", id="a-prefecture"),
    pytest.param({"signer": YOKOHAMA}, {}, "sender_mismatch", id="another-town"),
    pytest.param({"audience": YOKOHAMA}, {}, "decryption_failed", id="sealed-to-another"),
    pytest.param({"type": "copies.answer"}, {}, "unexpected_type", id="not-a-request"),
    pytest.param({"at": utcnow() - dt.timedelta(minutes=10)}, {}, "message_expired", id="stale"),
    pytest.param({}, {"clerk": "spiffe://jukinet/operator/141003/x"}, "foreign_clerk",
                 id="foreign-clerk"),
    pytest.param({}, {"id_checked": False}, "invalid_payload: id_checked: literal_error",
                 id="id-not-checked"),
    pytest.param({}, {"registered_domicile": "x"}, "invalid_payload: registered_domicile: "
                 "extra_forbidden", id="asks-for-the-domicile"),
    pytest.param({}, {"本籍": "x"}, "invalid_payload", id="names-not-echoed"),
]  # fmt: skip


@pytest.mark.parametrize(("how", "changes", "detail"), FORGED)
async def test_a_forged_or_invalid_request_is_refused_and_logged(
    peer: Counterpart, ctx: HomeContext, how: dict[str, Any], changes: dict[str, Any], detail: str
) -> None:
    sealed = peer.seal(request(**changes), **how)
    audience, answer = await peer.ask(sealed)
    assert audience == HIRATSUKA  # the sender the broker vouches for
    assert (answer.outcome, answer.reason, answer.detail) == (
        "refused", Refusal.INVALID_REQUEST, detail
    )  # fmt: skip
    operation = await _last_operation(ctx)
    assert (operation["actor"], operation["role"]) == (HIRATSUKA.uri, "anonymous")
    assert operation["outcome"] == f"refused:{detail.partition(':')[0]}"
    async with ctx.sessions() as session:
        query = select(CopyProvision).where(CopyProvision.request_message_id == sealed.message_id)
        assert (await session.scalars(query)).first() is None


@pytest.mark.parametrize(
    ("subject", "reply"),
    [
        ("jukinet.copy.req.141003.142034", "jukinet.copy.rep.142034.141003.t"),  # not for us
        ("jukinet.copy.req.131016.142034", "jukinet.copy.rep.141003.131016.t"),  # elsewhere
        ("jukinet.copy.req.131016.142034", "_INBOX_142034.t"),  # not a copy reply subject
        ("jukinet.copy.req.131016.142034", ""),  # no reply wanted
    ],
)
async def test_a_reply_that_would_not_reach_the_sender_is_not_sent(
    peer: Counterpart, ctx: HomeContext, subject: str, reply: str
) -> None:
    sealed = peer.seal(request())
    with pytest.raises(Unanswerable):
        await answer_request(ctx, peer.home_opener, subject, reply, sealed.token.encode())


async def test_the_counter_hears_at_once_when_the_register_fails(
    peer: Counterpart, ctx: HomeContext, tmp_path: Path
) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'empty.db'}")  # no tables at all
    try:
        broken = HomeContext(CHIYODA, session_factory(engine), ctx.home_name, ctx.key)
        _, answer = await Counterpart(peer.layout, peer.trust, broken).ask(peer.seal(request()))
    finally:
        await engine.dispose()
    assert (answer.outcome, answer.reason, answer.in_reply_to) == (
        "refused", Refusal.UNAVAILABLE, None
    )  # fmt: skip


# -- the issuing end reads the answer -----------------------------------------------------


def _answer(peer: Counterpart, payload: dict[str, Any], signer: Principal = CHIYODA) -> bytes:
    sealer = Sealer(_credentials(peer.layout, signer), peer.directory)
    sealed = sealer.seal(
        audience=HIRATSUKA, type=COPY_ANSWER, payload=payload, sequence=1, ttl=ANSWER_TTL
    )
    return sealed.token.encode()


async def test_the_issuing_end_accepts_only_the_home_municipalitys_answer_to_its_request(
    peer: Counterpart,
) -> None:
    sealed = peer.seal(request())
    _, answer = await peer.ask(sealed)
    good = answer.model_dump(mode="json", exclude_none=True)
    hiratsuka = Opener(_credentials(peer.layout, HIRATSUKA), peer.trust)

    def read(data: bytes) -> CopyAnswer:
        return read_answer(hiratsuka, data, home=CHIYODA, sent_id=sealed.message_id)

    assert read(_answer(peer, good)) == answer
    entry = good["entries"][0]
    for bad in (
        _answer(peer, good, signer=YOKOHAMA),  # someone else answers
        _answer(peer, good | {"in_reply_to": uuid.uuid4().hex}),  # about another request
        _answer(peer, good | {"entries": [entry | {"registered_domicile": DOMICILE}]}),
        _answer(peer, good | {"entries": [entry | {"family_register_head": FAMILY_HEAD}]}),
        b"not an envelope",
    ):
        with pytest.raises(ExchangeFailed) as failed:
            read(bad)
        assert (failed.value.reason, failed.value.message_id) == ("bad_answer", sealed.message_id)


async def test_the_ledgers_are_migrated_as_modelled(ctx: HomeContext) -> None:
    """Migration 0006 creates exactly the tables and the index the models describe."""
    async with ctx.sessions() as session:
        conn = await session.connection()
        diff = await conn.run_sync(
            lambda c: compare_metadata(
                MigrationContext.configure(c, opts={"compare_type": True}), Base.metadata
            )
        )
    names = ("issued_copies", "copy_provisions", "ix_residents_birth_date_name")
    assert [d for d in diff if any(name in str(d) for name in names)] == []
    assert {"issued_copies", "copy_provisions"} <= set(Base.metadata.tables)
    indexes = {index.name for index in Base.metadata.tables["residents"].indexes}
    assert "ix_residents_birth_date_name" in indexes
