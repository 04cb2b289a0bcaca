"""Operator login on a real database with a faked clock: a lockout ends by itself, a
challenge expires, a disabled operator or a revoked card is refused, a session expires
(and ends when its card is revoked), a password is at least 12 characters; challenges
are stateless and serve one login; a stranger's failures never lock the operator out."""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path

import pytest
from argon2 import extract_parameters
from argon2.profiles import CHEAPEST, RFC_9106_LOW_MEMORY
from cryptography import x509
from sqlalchemy.ext.asyncio import AsyncSession

import municipal.models
from jukinet.operators import (
    AuthPolicy,
    IcCard,
    OperatorTables,
    Role,
    card_principal,
    challenge_message,
    hash_password,
    register_operator,
    replace_card,
    set_state,
)
from jukinet.operators._auth import (
    PASSWORD_PARAMETERS,
    LoginAttempt,
    issue_challenge,
    login,
    resolve_token,
)
from jukinet.pki import (
    CertificateAuthority,
    PkiLayout,
    RevocationList,
    TrustStore,
    read_certificate,
    revoke,
)
from tests.principals import HIRATSUKA, YOKOHAMA

MIGRATIONS = Path(municipal.models.__file__).parent / "migrations"
TABLES = OperatorTables.of(municipal.models.Base.metadata)
PASSWORD = "a long enough secret"
POLICY = AuthPolicy()
KEY = b"k" * 32  # the node's challenge key (derived from its signing key in a service)
# argon2id at next to no cost: these tests are about logging in, not about the hash (the
# production parameters are checked once, in test_passwords_are_hashed_as_in_production)
CHEAP = CHEAPEST
pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture
def card(pki: tuple[PkiLayout, CertificateAuthority], tmp_path: Path) -> IcCard:
    layout, ca = pki
    principal = card_principal(HIRATSUKA, "abe")
    layout.issue(ca, principal, validity=dt.timedelta(days=30))
    return IcCard(layout.node_dir(principal))


async def enrol(session: AsyncSession, card: IcCard) -> None:
    async with session.begin():
        await register_operator(
            session, TABLES, slug="abe", role=Role.CLERK, password=PASSWORD,
            card=x509.load_pem_x509_certificate(card.certificate_pem.encode()),
            password_parameters=CHEAP,
        )  # fmt: skip


async def attempt(
    session: AsyncSession,
    card: IcCard,
    trust: TrustStore,
    now: dt.datetime,
    password: str = PASSWORD,
    slug: str = "abe",
) -> tuple[str | None, str | None]:
    c = issue_challenge(KEY, HIRATSUKA, POLICY, now)
    message = challenge_message(HIRATSUKA, c.id, c.nonce)
    tried = LoginAttempt(slug, password, c.id, card.sign(message), card.certificate_pem)
    async with session.begin():
        result = await login(session, TABLES, HIRATSUKA, trust, POLICY, KEY, tried, now)
    return result.token, result.failure


def clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


async def test_a_lockout_ends_by_itself(
    session: AsyncSession, card: IcCard, trust: TrustStore
) -> None:
    await enrol(session, card)
    now = clock()
    for _ in range(POLICY.max_failures):
        assert (await attempt(session, card, trust, now, "wrong password!"))[1] == "wrong_password"
    assert (await attempt(session, card, trust, now))[1] == "locked"
    later = now + POLICY.lockout - dt.timedelta(seconds=1)
    assert (await attempt(session, card, trust, later))[1] == "locked"
    token, failure = await attempt(
        session, card, trust, now + POLICY.lockout + dt.timedelta(seconds=1)
    )
    assert failure is None
    assert token is not None


async def test_a_challenge_expires_and_a_session_too(
    session: AsyncSession, card: IcCard, trust: TrustStore
) -> None:
    await enrol(session, card)
    now = clock()
    c = issue_challenge(KEY, HIRATSUKA, POLICY, now)
    signature = card.sign(challenge_message(HIRATSUKA, c.id, c.nonce))
    late = now + POLICY.challenge_ttl + dt.timedelta(seconds=1)
    tried = LoginAttempt("abe", PASSWORD, c.id, signature, card.certificate_pem)
    async with session.begin():
        result = await login(session, TABLES, HIRATSUKA, trust, POLICY, KEY, tried, late)
    assert result.failure == "challenge_unknown_or_expired"

    token, _ = await attempt(session, card, trust, now)
    assert token is not None
    async with session.begin():
        assert await resolve_token(session, TABLES, HIRATSUKA, token, now) is not None
        expired = now + POLICY.session_ttl + dt.timedelta(seconds=1)
        assert await resolve_token(session, TABLES, HIRATSUKA, token, expired) is None
    async with session.begin():  # in time, the same challenge serves one login only
        first = await login(session, TABLES, HIRATSUKA, trust, POLICY, KEY, tried, now)
    async with session.begin():
        replayed = await login(session, TABLES, HIRATSUKA, trust, POLICY, KEY, tried, now)
    assert first.token is not None
    assert (replayed.token, replayed.failure, replayed.proven) == (None, "challenge_replayed", True)


async def test_a_signature_over_another_offices_challenge_is_refused(
    session: AsyncSession, card: IcCard, trust: TrustStore
) -> None:
    await enrol(session, card)
    now = clock()
    c = issue_challenge(KEY, HIRATSUKA, POLICY, now)
    elsewhere = challenge_message(YOKOHAMA, c.id, c.nonce)
    tried = LoginAttempt("abe", PASSWORD, c.id, card.sign(elsewhere), card.certificate_pem)
    async with session.begin():
        result = await login(session, TABLES, HIRATSUKA, trust, POLICY, KEY, tried, now)
    assert result.failure == "bad_card_signature"
    garbage = LoginAttempt("abe", PASSWORD, "0" * 32, base64.b64encode(b"x").decode(), "junk")
    async with session.begin():
        result = await login(session, TABLES, HIRATSUKA, trust, POLICY, KEY, garbage, now)
    assert result.failure in {"challenge_unknown_or_expired", "card_untrusted"}
    # another node's challenge (another key) is not this office's
    foreign = issue_challenge(b"x" * 32, HIRATSUKA, POLICY, now)
    signed = card.sign(challenge_message(HIRATSUKA, foreign.id, foreign.nonce))
    tried = LoginAttempt("abe", PASSWORD, foreign.id, signed, card.certificate_pem)
    async with session.begin():
        result = await login(session, TABLES, HIRATSUKA, trust, POLICY, KEY, tried, now)
    assert result.failure == "bad_card_signature"


async def test_a_disabled_operator_or_a_revoked_card_is_refused(
    session: AsyncSession,
    card: IcCard,
    pki: tuple[PkiLayout, CertificateAuthority],
    tmp_path: Path,
) -> None:
    await enrol(session, card)
    layout, ca = pki
    now = clock()
    async with session.begin():
        await set_state(session, TABLES, "abe", disabled=True)
    assert (await attempt(session, card, TrustStore(ca.certificate), now))[1] == "disabled"
    async with session.begin():
        await set_state(session, TABLES, "abe", disabled=False)
    revocations = tmp_path / "revoked.json"
    cert = read_certificate(layout.node_dir(card_principal(HIRATSUKA, "abe")) / "sign.crt")
    revoke(revocations, [cert], now - dt.timedelta(minutes=1))
    revoked = TrustStore(ca.certificate, RevocationList(revocations))
    assert (await attempt(session, card, revoked, now))[1] == "card_revoked"


async def test_a_password_has_at_least_twelve_characters() -> None:
    with pytest.raises(ValueError, match="12"):
        hash_password("short")
    with pytest.raises(ValueError, match="12"):
        hash_password("short", CHEAP)
    assert hash_password(PASSWORD).startswith("$argon2id$")


async def test_passwords_are_hashed_as_in_production(
    session: AsyncSession, card: IcCard, trust: TrustStore
) -> None:
    """The one test with the real cost: an operator registered without parameters gets
    argon2id with RFC 9106's low-memory parameters (64 MiB, 3 passes, 4 lanes), and logs
    in with it."""
    assert PASSWORD_PARAMETERS == RFC_9106_LOW_MEMORY
    assert (RFC_9106_LOW_MEMORY.memory_cost, RFC_9106_LOW_MEMORY.time_cost) == (65536, 3)
    async with session.begin():
        await register_operator(
            session, TABLES, slug="abe", role=Role.CLERK, password=PASSWORD,
            card=x509.load_pem_x509_certificate(card.certificate_pem.encode()),
        )  # fmt: skip
        row = (await session.execute(TABLES.operators.select())).one()
    assert extract_parameters(row.password_hash) == RFC_9106_LOW_MEMORY
    token, failure = await attempt(session, card, trust, clock())
    assert failure is None
    assert token is not None


async def test_a_new_card_or_a_disabled_account_ends_open_sessions(
    session: AsyncSession, card: IcCard, trust: TrustStore
) -> None:
    await enrol(session, card)
    now = clock()
    first, _ = await attempt(session, card, trust, now)
    assert first is not None
    async with session.begin():
        await replace_card(session, TABLES, "abe", x509.load_pem_x509_certificate(
            card.certificate_pem.encode()))  # fmt: skip
        assert await resolve_token(session, TABLES, HIRATSUKA, first, now) is None
    second, _ = await attempt(session, card, trust, now)
    assert second is not None
    async with session.begin():
        await set_state(session, TABLES, "abe", disabled=True)
        assert await resolve_token(session, TABLES, HIRATSUKA, second, now) is None


async def test_a_revoked_card_ends_its_open_sessions_at_once(
    session: AsyncSession,
    card: IcCard,
    pki: tuple[PkiLayout, CertificateAuthority],
    tmp_path: Path,
) -> None:
    await enrol(session, card)
    layout, ca = pki
    revocations = tmp_path / "revoked.json"
    trust = TrustStore(ca.certificate, RevocationList(revocations))
    now = clock()
    token, _ = await attempt(session, card, trust, now)
    assert token is not None
    async with session.begin():
        assert await resolve_token(session, TABLES, HIRATSUKA, token, now, trust) is not None
    cert = read_certificate(layout.node_dir(card_principal(HIRATSUKA, "abe")) / "sign.crt")
    revoke(revocations, [cert], now + dt.timedelta(seconds=5))
    async with session.begin():  # before the moment of revocation, after it
        assert await resolve_token(session, TABLES, HIRATSUKA, token, now, trust) is not None
        later = now + dt.timedelta(seconds=5)
        assert await resolve_token(session, TABLES, HIRATSUKA, token, later, trust) is None


async def test_challenges_are_stateless_and_a_stranger_cannot_lock_the_operator_out(
    session: AsyncSession,
    card: IcCard,
    trust: TrustStore,
    pki: tuple[PkiLayout, CertificateAuthority],
) -> None:
    await enrol(session, card)
    layout, ca = pki
    stranger = card_principal(HIRATSUKA, "stranger")
    layout.issue(ca, stranger, validity=dt.timedelta(days=30))
    their_card = IcCard(layout.node_dir(stranger))
    now = clock()
    for _ in range(20_000):  # a flood of challenges stores nothing
        issue_challenge(KEY, HIRATSUKA, POLICY, now)
    for _ in range(POLICY.max_failures * 3):  # no card of abe's: nothing counts
        token, failure = await attempt(session, their_card, trust, now, "wrong password!", "abe")
        assert (token, failure) == (None, "wrong_card")
    async with session.begin():
        rows = await session.execute(TABLES.operators.select())
        assert [r.failed_attempts for r in rows] == [0]
        assert (await session.execute(TABLES.challenges.select())).first() is None
    token, failure = await attempt(session, card, trust, now)
    assert failure is None
    assert token is not None
