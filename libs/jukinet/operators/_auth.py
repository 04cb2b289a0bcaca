"""Operator authentication: the IC card signs a challenge from this office, then the
password (argon2id) is checked; then a short-lived session token.

The card comes first: nothing is stored, hashed with argon2 or counted against the
operator until a card valid for that operator has signed a fresh challenge of this
office. So a stranger can neither spend the office's CPU on argon2, nor fill a table,
nor lock the real operator out; their failures are counted per source (see
``_throttle``) and in metrics (see ``_strangers``), never in the operation log.
Challenges are stateless — an expiry and a random part, authenticated by an HMAC under
a key derived from the node's own signing key — and a challenge is recorded only once
a card has signed it, so it serves one login only.
Every failure answers the same "authentication failed", whatever the cause.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from argon2 import Parameters, PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.profiles import RFC_9106_LOW_MEMORY
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from jukinet.contracts.principals import Principal, PrincipalKind
from jukinet.db.engine import AnyRow
from jukinet.operators._model import ANONYMOUS, Actor, Role
from jukinet.operators._tables import OperatorTables
from jukinet.pki import (
    CertificateExpired,
    CertificateRevoked,
    PkiError,
    Purpose,
    TrustStore,
    fingerprint,
    fingerprint_revoked,
    verify_presented,
)

__all__ = [
    "PASSWORD_PARAMETERS",
    "AuthPolicy",
    "Challenge",
    "LoginAttempt",
    "card_principal",
    "challenge_key",
    "challenge_message",
    "check_card",
    "hash_password",
    "issue_challenge",
    "login",
    "resolve_token",
    "revoke_token",
]

PASSWORD_PARAMETERS = RFC_9106_LOW_MEMORY  # argon2id, as PasswordHasher() hashes by default
_hasher = PasswordHasher()  # for verifying, by the parameters the stored hash names
TOKEN_PREFIX = "jks_"  # noqa: S105 - marks session tokens, is no secret
MIN_PASSWORD = 12
_CHALLENGE_INFO = b"jukinet operator login challenges"


@dataclass(frozen=True)
class AuthPolicy:
    max_failures: int = 5
    lockout: dt.timedelta = dt.timedelta(minutes=30)
    session_ttl: dt.timedelta = dt.timedelta(minutes=30)
    challenge_ttl: dt.timedelta = dt.timedelta(minutes=2)


def hash_password(password: str, parameters: Parameters = PASSWORD_PARAMETERS) -> str:
    """argon2id of ``password``. Other ``parameters`` are for tests that need no real
    cost; verifying reads the parameters from the stored hash."""
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"a password has at least {MIN_PASSWORD} characters")
    return PasswordHasher.from_parameters(parameters).hash(password)


def card_principal(node: Principal, slug: str) -> Principal:
    """The principal an operator's IC card names: ``operator/<office>/<slug>``."""
    return Principal(PrincipalKind.OPERATOR, f"{node.name}/{slug}")


def challenge_message(node: Principal, challenge_id: str, nonce: str) -> bytes:
    """What the card signs: bound to this office and this one challenge."""
    return b"\x00".join([b"jukinet-operator-login", node.uri.encode(), challenge_id.encode(),
                         nonce.encode()])  # fmt: skip


def challenge_key(signing_key: ed25519.Ed25519PrivateKey) -> bytes:
    """The HMAC key of this node's challenges, derived from its signing key (so every
    process of the node agrees, and a rotation changes it)."""
    raw = signing_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return HKDF(hashes.SHA256(), 32, salt=None, info=_CHALLENGE_INFO).derive(raw)


@dataclass(frozen=True)
class Challenge:
    id: str  # 16 hex digits of the expiry (Unix seconds), 16 random hex digits
    nonce: str  # HMAC of the office and the id: only this node could have made it
    expires_at: dt.datetime


def issue_challenge(key: bytes, node: Principal, policy: AuthPolicy, now: dt.datetime) -> Challenge:
    """A fresh challenge; nothing is stored, so issuing any number of them costs nothing
    but the HMAC."""
    expiry = int((now + policy.challenge_ttl).timestamp())
    challenge_id = f"{expiry:016x}{secrets.token_hex(8)}"
    expires_at = dt.datetime.fromtimestamp(expiry, dt.UTC)
    return Challenge(challenge_id, _nonce(key, node, challenge_id), expires_at)


def _nonce(key: bytes, node: Principal, challenge_id: str) -> str:
    data = b"\x00".join([node.uri.encode(), challenge_id.encode()])
    return hmac.new(key, data, hashlib.sha256).hexdigest()


def challenge_nonce(
    key: bytes, node: Principal, policy: AuthPolicy, challenge_id: str, now: dt.datetime
) -> tuple[str, dt.datetime] | None:
    """The nonce and expiry of a challenge this node issued and that is still fresh."""
    if len(challenge_id) != 32:
        return None
    try:
        expiry = int(challenge_id[:16], 16)
    except ValueError:
        return None
    moment = now.timestamp()
    if not moment <= expiry <= moment + policy.challenge_ttl.total_seconds():
        return None
    return _nonce(key, node, challenge_id), dt.datetime.fromtimestamp(expiry, dt.UTC)


@dataclass(frozen=True)
class LoginAttempt:
    operator: str
    password: str
    challenge_id: str
    signature: str  # base64 of the card's Ed25519 signature over challenge_message()
    card_certificate: str  # PEM, as the card presents it


@dataclass(frozen=True)
class LoginResult:
    """``token`` on success; otherwise ``failure`` names the cause (for the log only).
    ``proven``: the operator's own card signed this attempt (only then is it the
    operator's attempt, to be chained in the operation log and counted for a lockout)."""

    token: str | None
    failure: str | None
    actor: Actor
    expires_at: dt.datetime | None = None
    proven: bool = False


async def login(
    session: AsyncSession,
    tables: OperatorTables,
    node: Principal,
    trust: TrustStore,
    policy: AuthPolicy,
    key: bytes,
    attempt: LoginAttempt,
    now: dt.datetime,
) -> LoginResult:
    """Check the challenge and the card, then the password; count a failure or open a
    session. The caller commits either way."""
    fresh = challenge_nonce(key, node, policy, attempt.challenge_id, now)
    if fresh is None:
        return LoginResult(None, "challenge_unknown_or_expired", ANONYMOUS)
    nonce, expires = fresh
    message = challenge_message(node, attempt.challenge_id, nonce)
    failure, card = check_card(trust, node, attempt.operator, attempt, message, now)
    if failure is not None or card is None:
        return LoginResult(None, failure or "card_untrusted", ANONYMOUS)
    t = tables.operators
    row = (await session.execute(select(t).where(t.c.slug == attempt.operator))).first()
    if row is None:
        return LoginResult(None, "unknown_operator", ANONYMOUS)
    if fingerprint(card) != row.card_fingerprint:
        return LoginResult(None, "wrong_card", ANONYMOUS)  # a card replaced since
    actor = Actor(card_principal(node, row.slug).uri, Role(row.role), row.slug)
    if not await _take_challenge(session, tables, attempt.challenge_id, nonce, expires, now):
        return LoginResult(None, "challenge_replayed", actor, proven=True)
    return await _with_password(session, tables, row, actor, policy, attempt.password, now)


async def _with_password(
    session: AsyncSession,
    tables: OperatorTables,
    row: AnyRow,
    actor: Actor,
    policy: AuthPolicy,
    password: str,
    now: dt.datetime,
) -> LoginResult:
    """The card is the operator's: now the password (~50 ms of argon2), the lock, the
    count of failures."""
    password_ok = await asyncio.to_thread(_password_ok, row.password_hash, password)
    failure = None if password_ok else "wrong_password"
    refusal = _refusal(row, now)
    if refusal is not None:  # told plainly only to who holds the password and the card
        cause = refusal if failure is None else f"{refusal}:{failure}"
        return LoginResult(None, cause, actor, proven=True)
    if failure is not None:
        await _count_failure(session, tables, row, policy, now)
        return LoginResult(None, failure, actor, proven=True)
    token, expires = await _open_session(session, tables, row, policy, now)
    return LoginResult(token, None, actor, expires, proven=True)


def _password_ok(stored: str, given: str) -> bool:
    try:
        return _hasher.verify(stored, given)
    except (VerificationError, InvalidHashError):
        return False


def _refusal(row: AnyRow, now: dt.datetime) -> str | None:
    if row.disabled:
        return "disabled"
    locked_until = row.locked_until
    if locked_until is not None and locked_until > now:
        return "locked"
    return None


async def _take_challenge(
    session: AsyncSession,
    tables: OperatorTables,
    challenge_id: str,
    nonce: str,
    expires: dt.datetime,
    now: dt.datetime,
) -> bool:
    """Record a card-signed challenge as used; False if it already was (a replay). Only
    card holders reach this, so strangers cannot fill the table; expired entries go."""
    c = tables.challenges
    await session.execute(delete(c).where(c.c.expires_at < now))
    bind = session.bind
    dialect = bind.dialect.name if bind is not None else "sqlite"
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = (
        insert(c)
        .values(id=challenge_id, nonce=nonce, expires_at=expires)
        .on_conflict_do_nothing(index_elements=[c.c.id])
    )  # one statement: two logins racing for one challenge cannot both get it
    result = await session.execute(statement)
    return bool(getattr(result, "rowcount", 0) == 1)


def check_card(
    trust: TrustStore,
    node: Principal,
    slug: str,
    attempt: LoginAttempt,
    message: bytes,
    now: dt.datetime,
) -> tuple[str | None, x509.Certificate | None]:
    """Why the presented card is refused (or None) and the card: it must chain to the
    federation CA, be valid now and not revoked, name this office and this operator,
    and have signed this challenge. Needs no database: a stranger's attempt ends here
    whether or not the operator exists."""
    try:
        cert = x509.load_pem_x509_certificate(attempt.card_certificate.encode())
        principal = verify_presented(trust, cert, purpose=Purpose.SIGN, at=now)
    except CertificateExpired:
        return "card_expired", None
    except CertificateRevoked:
        return "card_revoked", None
    except (PkiError, ValueError):
        return "card_untrusted", None
    if principal != card_principal(node, slug):
        office = principal.name.partition("/")[0]
        return ("card_of_another_office" if office != node.name else "wrong_card"), None
    return _signature_failure(cert, attempt.signature, message), cert


def _signature_failure(cert: x509.Certificate, signature: str, message: bytes) -> str | None:
    key = cert.public_key()
    if not isinstance(key, ed25519.Ed25519PublicKey):
        return "card_untrusted"
    try:
        key.verify(base64.b64decode(signature, validate=True), message)
    except (InvalidSignature, binascii.Error, ValueError):
        return "bad_card_signature"
    return None


async def _count_failure(
    session: AsyncSession, tables: OperatorTables, row: AnyRow, policy: AuthPolicy, now: dt.datetime
) -> None:
    t = tables.operators
    counted = await session.execute(
        update(t)
        .where(t.c.slug == row.slug)
        .values(failed_attempts=t.c.failed_attempts + 1)
        .returning(t.c.failed_attempts)
    )  # incremented in the database: parallel guesses each count
    if int(counted.scalar_one()) >= policy.max_failures:
        lock = {"failed_attempts": 0, "locked_until": now + policy.lockout}
        await session.execute(update(t).where(t.c.slug == row.slug).values(lock))


async def _open_session(
    session: AsyncSession, tables: OperatorTables, row: AnyRow, policy: AuthPolicy, now: dt.datetime
) -> tuple[str, dt.datetime]:
    t, s = tables.operators, tables.sessions
    slug = str(row.slug)
    await session.execute(
        update(t).where(t.c.slug == slug).values(failed_attempts=0, locked_until=None)
    )
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires = now + policy.session_ttl
    await session.execute(
        s.insert().values(
            token_hash=_token_hash(token),
            operator=slug,
            role=str(row.role),
            issued_at=now,
            expires_at=expires,
            revoked=False,
        )
    )
    return token, expires


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def resolve_token(
    session: AsyncSession,
    tables: OperatorTables,
    node: Principal,
    token: str,
    now: dt.datetime,
    trust: TrustStore | None = None,
) -> Actor | None:
    """The operator a live session token belongs to: still enabled and, given ``trust``,
    whose registered card is not revoked (a session ends the moment its card is)."""
    s, t = tables.sessions, tables.operators
    row = (
        await session.execute(
            select(s.c.operator, t.c.role, t.c.disabled, t.c.card_fingerprint)
            .join(t, t.c.slug == s.c.operator)
            .where(s.c.token_hash == _token_hash(token), s.c.revoked.is_(False))
            .where(s.c.expires_at > now)
        )
    ).first()
    if row is None or row.disabled:
        return None
    if trust is not None and fingerprint_revoked(trust, str(row.card_fingerprint), now):
        return None
    return Actor(card_principal(node, row.operator).uri, Role(row.role), row.operator)


async def revoke_token(session: AsyncSession, tables: OperatorTables, token: str) -> None:
    s = tables.sessions
    await session.execute(
        update(s).where(s.c.token_hash == _token_hash(token)).values(revoked=True)
    )
