"""Operator authentication: a password (argon2id) and the IC card, which signs a one-time
challenge from this office; then a short-lived session token.

Every failure counts towards a lockout and answers the same "authentication failed",
whatever the cause (the operation log records the cause for auditors).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from jukinet.db import AnyRow
from jukinet.operators._model import ANONYMOUS, Actor, Role
from jukinet.operators._tables import OperatorTables
from jukinet.pki import (
    CertificateExpired,
    PkiError,
    Purpose,
    TrustStore,
    fingerprint,
)
from jukinet.principals import Principal, PrincipalKind
from jukinet.problems import Problem

__all__ = [
    "AuthPolicy",
    "Challenge",
    "LoginAttempt",
    "card_principal",
    "challenge_message",
    "check_card",
    "hash_password",
    "issue_challenge",
    "login",
    "resolve_token",
    "revoke_token",
]

_hasher = PasswordHasher()  # argon2id, RFC 9106 low-memory defaults
# A stand-in hash for unknown operators, so their failures cost the same time.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))
TOKEN_PREFIX = "jks_"  # noqa: S105 - marks session tokens, is no secret
MIN_PASSWORD = 12
MAX_PENDING_CHALLENGES = 10_000  # a flood of challenges cannot grow the table without end


class TooManyLogins(Problem):
    status, type, title = 503, "too-many-logins", "Too many logins in progress"


@dataclass(frozen=True)
class AuthPolicy:
    max_failures: int = 5
    lockout: dt.timedelta = dt.timedelta(minutes=30)
    session_ttl: dt.timedelta = dt.timedelta(minutes=30)
    challenge_ttl: dt.timedelta = dt.timedelta(minutes=2)


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"a password has at least {MIN_PASSWORD} characters")
    return _hasher.hash(password)


def card_principal(node: Principal, slug: str) -> Principal:
    """The principal an operator's IC card names: ``operator/<office>/<slug>``."""
    return Principal(PrincipalKind.OPERATOR, f"{node.name}/{slug}")


def challenge_message(node: Principal, challenge_id: str, nonce: str) -> bytes:
    """What the card signs: bound to this office and this one challenge."""
    return b"\x00".join([b"jukinet-operator-login", node.uri.encode(), challenge_id.encode(),
                         nonce.encode()])  # fmt: skip


@dataclass(frozen=True)
class Challenge:
    id: str
    nonce: str
    expires_at: dt.datetime


async def issue_challenge(
    session: AsyncSession, tables: OperatorTables, policy: AuthPolicy, now: dt.datetime
) -> Challenge:
    c = tables.challenges
    await session.execute(delete(c).where(c.c.expires_at < now))
    pending = int(await session.scalar(select(func.count()).select_from(c)) or 0)
    if pending >= MAX_PENDING_CHALLENGES:
        raise TooManyLogins("too many logins in progress; try again shortly")
    challenge = Challenge(secrets.token_hex(16), secrets.token_hex(32), now + policy.challenge_ttl)
    await session.execute(
        c.insert().values(id=challenge.id, nonce=challenge.nonce, expires_at=challenge.expires_at)
    )
    return challenge


@dataclass(frozen=True)
class LoginAttempt:
    operator: str
    password: str
    challenge_id: str
    signature: str  # base64 of the card's Ed25519 signature over challenge_message()
    card_certificate: str  # PEM, as the card presents it


@dataclass(frozen=True)
class LoginResult:
    """``token`` on success; otherwise ``failure`` names the cause (for the log only)."""

    token: str | None
    failure: str | None
    actor: Actor
    expires_at: dt.datetime | None = None


async def login(
    session: AsyncSession,
    tables: OperatorTables,
    node: Principal,
    trust: TrustStore,
    policy: AuthPolicy,
    attempt: LoginAttempt,
    now: dt.datetime,
) -> LoginResult:
    """Check everything, count a failure or open a session. The caller commits either way."""
    t = tables.operators
    row = (await session.execute(select(t).where(t.c.slug == attempt.operator))).first()
    nonce = await _take_challenge(session, tables, attempt.challenge_id, now)
    stored = row.password_hash if row is not None else _DUMMY_HASH
    password_ok = await asyncio.to_thread(_password_ok, stored, attempt.password)  # ~50 ms
    if row is None:
        return LoginResult(None, "unknown_operator", ANONYMOUS)
    actor = Actor(card_principal(node, row.slug).uri, Role(row.role), row.slug)
    failure = None if password_ok else "wrong_password"
    if failure is None and nonce is None:
        failure = "challenge_unknown_or_expired"
    if failure is None and nonce is not None:
        message = challenge_message(node, attempt.challenge_id, nonce)
        failure = check_card(trust, node, row, attempt, message, now)
    refusal = _refusal(row, now)
    if refusal is not None:  # told plainly only to who holds the password and the card
        return LoginResult(None, refusal if failure is None else f"{refusal}:{failure}", actor)
    if failure is not None:
        await _count_failure(session, tables, row, policy, now)
        return LoginResult(None, failure, actor)
    token, expires = await _open_session(session, tables, row, policy, now)
    return LoginResult(token, None, actor, expires)


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
    session: AsyncSession, tables: OperatorTables, challenge_id: str, now: dt.datetime
) -> str | None:
    """The challenge's nonce, once: it is deleted whether or not the login succeeds."""
    c = tables.challenges
    taken = await session.execute(
        delete(c).where(c.c.id == challenge_id).returning(c.c.nonce, c.c.expires_at)
    )  # one statement: two logins racing for one challenge cannot both get it
    row = taken.first()
    if row is None:
        return None
    return str(row.nonce) if row.expires_at >= now else None


def check_card(
    trust: TrustStore,
    node: Principal,
    row: AnyRow,
    attempt: LoginAttempt,
    message: bytes,
    now: dt.datetime,
) -> str | None:
    """Why the presented card is refused, or None: it must chain to the federation CA, be
    valid now and not revoked, name this office and this operator, be the card
    registered for the operator, and have signed this challenge."""
    try:
        cert = x509.load_pem_x509_certificate(attempt.card_certificate.encode())
        principal = trust.verify(cert, purpose=Purpose.SIGN, at=now)
    except CertificateExpired:
        return "card_expired"
    except (PkiError, ValueError):
        return "card_untrusted"
    if trust.revoked_at(cert) is not None:
        return "card_revoked"
    expected = card_principal(node, str(row.slug))
    if principal != expected:
        office = principal.name.partition("/")[0]
        return "card_of_another_office" if office != node.name else "wrong_card"
    if fingerprint(cert) != row.card_fingerprint:
        return "wrong_card"
    return _signature_failure(cert, attempt.signature, message)


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
    session: AsyncSession, tables: OperatorTables, node: Principal, token: str, now: dt.datetime
) -> Actor | None:
    """The operator a live session token belongs to (and who is still enabled)."""
    s, t = tables.sessions, tables.operators
    row = (
        await session.execute(
            select(s.c.operator, t.c.role, t.c.disabled)
            .join(t, t.c.slug == s.c.operator)
            .where(s.c.token_hash == _token_hash(token), s.c.revoked.is_(False))
            .where(s.c.expires_at > now)
        )
    ).first()
    if row is None or row.disabled:
        return None
    return Actor(card_principal(node, row.operator).uri, Role(row.role), row.operator)


async def revoke_token(session: AsyncSession, tables: OperatorTables, token: str) -> None:
    s = tables.sessions
    await session.execute(
        update(s).where(s.c.token_hash == _token_hash(token)).values(revoked=True)
    )
