"""Only the office's IC cards are enrolled where the office names their makers: a full
attestation chaining to a maker's root, of an issued model, is registered; no
attestation, self attestation (any software can make one), another maker's chain, a
model not issued, or a certificate naming another model is refused, and the enrolment
code survives the refusal. Without makers (a local federation) any authenticator is
registered. Real database, real signatures, a software authenticator."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pytest
from argon2.profiles import CHEAPEST
from cryptography import x509
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

import municipal.models
from jukinet.operators import (
    AuthPolicy,
    BrowserCard,
    CardMakers,
    CardMakersError,
    IcCard,
    OperatorTables,
    Role,
    card_principal,
    enrol_card,
    issue_enrolment,
    register_operator,
    registration_options,
)
from jukinet.operators._webauthn import CardOffice
from jukinet.pki import CertificateAuthority, PkiLayout, TrustStore
from municipal.settings import MunicipalSettings
from tests.principals import HIRATSUKA
from tests.softcard import Maker, SoftCard
from tests.softcard import b64url as _b64url

TABLES = OperatorTables.of(municipal.models.Base.metadata)
CARDS = municipal.models.browser_cards
PASSWORD = "a long enough secret"
POLICY = AuthPolicy()
KEY = b"k" * 32
ORIGIN = "https://madoguchi.city.example"
ISSUED = uuid.UUID("6d44ba9b-f6ec-2e49-b930-0c8fe920cb73")  # the model the office issues
OTHER = uuid.UUID("2fc0579f-8113-47ea-b116-bb5a8db9202a")
ASYNC = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture(scope="module")
def maker() -> Maker:
    return Maker.create("見本カード製造")


def _makers(maker: Maker, tmp_path: Path, models: tuple[str, ...] = (str(ISSUED),)) -> CardMakers:
    bundle = tmp_path / "makers.pem"
    bundle.write_bytes(maker.root_pem())
    return CardMakers.load(bundle, models)


async def _operator(session: AsyncSession, pki: tuple[PkiLayout, CertificateAuthority]) -> str:
    """abe, with an IC card issued by the federation CA and an enrolment code."""
    layout, ca = pki
    principal = card_principal(HIRATSUKA, "abe")
    layout.issue(ca, principal, validity=dt.timedelta(days=30))
    card = IcCard(layout.node_dir(principal))
    async with session.begin():
        await register_operator(
            session, TABLES, slug="abe", role=Role.CLERK, password=PASSWORD,
            card=x509.load_pem_x509_certificate(card.certificate_pem.encode()),
            password_parameters=CHEAPEST,  # the hash is not what this is about
        )  # fmt: skip
        code = await issue_enrolment(session, TABLES, CARDS, "abe", _now())
    assert code is not None
    return code


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


async def _enrol(
    session: AsyncSession, trust: TrustStore, makers: CardMakers | None, card: SoftCard,
    attestation: str, code: str,
) -> str | None:  # fmt: skip
    site = BrowserCard(rp_id="madoguchi.city.example", origin=ORIGIN, rp_name="窓口",
                       makers=makers)  # fmt: skip
    now = _now()
    options = registration_options(KEY, HIRATSUKA, POLICY, site, "abe", now)
    credential = card.create(options, ORIGIN, attestation)  # type: ignore[arg-type]
    office = CardOffice(TABLES, CARDS, HIRATSUKA, POLICY, KEY, site, trust)
    attempt = {"operator": "abe", "password": PASSWORD, "code": code,
               "challenge_id": options["challenge_id"], "credential": credential}  # fmt: skip
    async with session.begin():
        return await enrol_card(session, office, attempt, now)


async def _registered(session: AsyncSession) -> int:
    async with session.begin():
        count = await session.scalar(select(func.count()).select_from(CARDS.credentials))
    return int(count or 0)


@ASYNC
async def test_an_issued_card_of_a_named_maker_is_enrolled(
    session: AsyncSession, pki: tuple[PkiLayout, CertificateAuthority], trust: TrustStore,
    maker: Maker, tmp_path: Path,
) -> None:  # fmt: skip
    code = await _operator(session, pki)
    card = SoftCard(ISSUED, maker, certified_model=ISSUED)
    assert await _enrol(session, trust, _makers(maker, tmp_path), card, "full", code) is None
    async with session.begin():
        stored = await session.scalar(select(CARDS.credentials.c.credential_id))
    assert stored == _b64url(card.credential_id)


@ASYNC
@pytest.mark.parametrize(
    ("attestation", "card_maker", "model", "certified", "refusal"),
    [
        ("none", "ours", ISSUED, ISSUED, "card_not_attested"),
        ("self", "ours", ISSUED, ISSUED, "card_not_attested"),
        ("full", "another", ISSUED, ISSUED, "bad_card_signature"),  # chain to no root of ours
        ("full", "ours", OTHER, OTHER, "card_model_not_issued"),
        ("full", "ours", ISSUED, OTHER, "card_model_mismatch"),  # claims a model not certified
    ],
    ids=[
        "no-attestation",
        "self-attestation",
        "another-maker",
        "model-not-issued",
        "model-mismatch",
    ],
)
async def test_anything_else_is_refused_and_the_code_survives(
    session: AsyncSession, pki: tuple[PkiLayout, CertificateAuthority], trust: TrustStore,
    maker: Maker, tmp_path: Path, attestation: str, card_maker: str, model: uuid.UUID,
    certified: uuid.UUID, refusal: str,
) -> None:  # fmt: skip
    code = await _operator(session, pki)
    signer = maker if card_maker == "ours" else Maker.create("他社")
    card = SoftCard(model, signer, certified_model=certified)
    makers = _makers(maker, tmp_path)
    assert await _enrol(session, trust, makers, card, attestation, code) == refusal
    assert await _registered(session) == 0
    issued = SoftCard(ISSUED, maker, certified_model=ISSUED)  # the same code still works
    assert await _enrol(session, trust, makers, issued, "full", code) is None


@ASYNC
async def test_any_model_of_a_named_maker_when_no_model_is_listed(
    session: AsyncSession, pki: tuple[PkiLayout, CertificateAuthority], trust: TrustStore,
    maker: Maker, tmp_path: Path,
) -> None:  # fmt: skip
    code = await _operator(session, pki)
    card = SoftCard(OTHER, maker)  # its certificate names no model
    assert await _enrol(session, trust, _makers(maker, tmp_path, ()), card, "full", code) is None


@ASYNC
async def test_without_makers_any_authenticator_is_enrolled_for_local_use(
    session: AsyncSession, pki: tuple[PkiLayout, CertificateAuthority], trust: TrustStore
) -> None:
    code = await _operator(session, pki)
    assert await _enrol(session, trust, None, SoftCard(OTHER), "self", code) is None


def test_the_card_is_asked_for_its_attestation_only_where_makers_are_named(
    maker: Maker, tmp_path: Path
) -> None:
    def asked(makers: CardMakers | None) -> str:
        site = BrowserCard(rp_id="localhost", origin="http://localhost", rp_name="窓口",
                           makers=makers)  # fmt: skip
        return str(registration_options(KEY, HIRATSUKA, POLICY, site, "abe", _now())
                   ["publicKey"]["attestation"])  # fmt: skip

    assert asked(_makers(maker, tmp_path)) == "direct"
    assert asked(None) == "none"


def test_a_misconfigured_office_does_not_start(tmp_path: Path) -> None:
    """Models without makers, an unreadable bundle or a model that is no AAGUID stop the
    service at its start rather than enrol anything."""
    base = {"principal": HIRATSUKA.uri, "database_url": "sqlite:///x.db", "api_token": "t" * 32}
    with pytest.raises(ValidationError, match="card_maker_roots"):
        MunicipalSettings(**base, card_models=str(ISSUED))
    missing = MunicipalSettings(**base, card_maker_roots=tmp_path / "absent.pem")
    with pytest.raises(CardMakersError, match="cannot read"):
        missing.card_makers()
    empty = tmp_path / "empty.pem"
    empty.write_text("no certificate here\n")
    with pytest.raises(CardMakersError):
        MunicipalSettings(**base, card_maker_roots=empty).card_makers()
    bundle = tmp_path / "ok.pem"
    bundle.write_bytes(Maker.create("見本").root_pem())
    with pytest.raises(CardMakersError, match="AAGUID"):
        MunicipalSettings(**base, card_maker_roots=bundle, card_models="abc").card_makers()
