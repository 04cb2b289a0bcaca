"""An operator's IC card in a browser: the card is a FIDO2 authenticator registered to
the operator (WebAuthn), and it signs the office's login challenge without its private
key ever leaving it.

The challenge is the office's own stateless one (see ``_auth``): WebAuthn's challenge is
the SHA-256 of the same message an IC card signs on the command line, so one challenge
serves one login whichever way the card is presented, and it is recorded as used only
once a registered card has signed it. Credentials are discoverable (the card names
itself): the login page never lists an operator's credentials, so it tells a stranger
nothing about who exists. Then the password and the lockout, exactly as for the API.

A card is registered (enrolled) by its operator with a one-time code an administrator
issued for them (`jukinet operators enroll`, or the administrator's page), their
password, and the card itself.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from sqlalchemy import (
    BigInteger,
    Column,
    LargeBinary,
    MetaData,
    String,
    Table,
    delete,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import options_to_json_dict, parse_authentication_credential_json
from webauthn.helpers.exceptions import InvalidAuthenticationResponse, InvalidRegistrationResponse
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticatorSelectionCriteria,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from jukinet.contracts.principals import Principal
from jukinet.db.engine import UtcDateTime
from jukinet.operators._auth import (
    AuthPolicy,
    LoginResult,
    _password_ok,
    _take_challenge,
    _with_password,
    card_principal,
    challenge_message,
    challenge_nonce,
    issue_challenge,
)
from jukinet.operators._makers import CardMakers
from jukinet.operators._model import ANONYMOUS, Actor, Role
from jukinet.operators._tables import OperatorTables
from jukinet.pki import (
    CertificateExpired,
    CertificateRevoked,
    PkiError,
    Purpose,
    TrustStore,
    verify_presented,
)

__all__ = [
    "ENROLMENT_TTL",
    "BrowserCard",
    "CardOffice",
    "WebAuthnTables",
    "authentication_options",
    "enrol_card",
    "issue_enrolment",
    "registration_options",
    "webauthn_login",
    "webauthn_tables",
]

ENROLMENT_TTL = dt.timedelta(hours=24)


@dataclass(frozen=True)
class WebAuthnTables:
    credentials: Table
    enrolments: Table


def webauthn_tables(metadata: MetaData) -> WebAuthnTables:
    credentials = Table(
        "operator_webauthn_credentials",
        metadata,
        Column("credential_id", String(400), primary_key=True),  # base64url, as sent
        Column("operator", String(40), nullable=False, index=True),
        # the operator's IC card this authenticator stands for: replaced, it stops working
        Column("card_fingerprint", String(64), nullable=False),
        Column("public_key", LargeBinary, nullable=False),  # COSE
        Column("sign_count", BigInteger, nullable=False),
        Column("created_at", UtcDateTime(), nullable=False),
        Column("last_used_at", UtcDateTime(), nullable=True),
    )
    enrolments = Table(
        "operator_webauthn_enrolments",
        metadata,
        Column("operator", String(40), primary_key=True),
        Column("code_hash", String(64), nullable=False),
        Column("expires_at", UtcDateTime(), nullable=False),
    )
    return WebAuthnTables(credentials, enrolments)


@dataclass(frozen=True)
class BrowserCard:
    """Where the browser is: WebAuthn binds every signature to the site (``rp_id``, a
    host name such as ``localhost``) and the page's ``origin``. ``makers``: whose cards
    may be enrolled here (see ``_makers``); None accepts any authenticator."""

    rp_id: str
    origin: str
    rp_name: str
    makers: CardMakers | None = None


@dataclass(frozen=True)
class CardOffice:
    """What a card ceremony at this office checks against: its tables, its challenges'
    key and policy, and the site the browser is on."""

    tables: OperatorTables
    cards: WebAuthnTables
    node: Principal
    policy: AuthPolicy
    key: bytes
    site: BrowserCard
    trust: TrustStore


def _expected(key: bytes, node: Principal, policy: AuthPolicy, challenge_id: str,
              now: dt.datetime) -> tuple[bytes, str, dt.datetime] | None:  # fmt: skip
    fresh = challenge_nonce(key, node, policy, challenge_id, now)
    if fresh is None:
        return None
    nonce, expires = fresh
    return hashlib.sha256(challenge_message(node, challenge_id, nonce)).digest(), nonce, expires


def _fresh(key: bytes, node: Principal, policy: AuthPolicy, now: dt.datetime) -> tuple[str, bytes]:
    """A new challenge of this office: its id, and what WebAuthn signs for it."""
    challenge = issue_challenge(key, node, policy, now)
    message = challenge_message(node, challenge.id, challenge.nonce)
    return challenge.id, hashlib.sha256(message).digest()


def authentication_options(
    key: bytes, node: Principal, policy: AuthPolicy, site: BrowserCard, now: dt.datetime
) -> dict[str, Any]:
    """What the login page hands ``navigator.credentials.get``, with the challenge id the
    answer must name. No credential is listed: the card names itself."""
    challenge_id, challenge = _fresh(key, node, policy, now)
    options = generate_authentication_options(
        rp_id=site.rp_id,
        challenge=challenge,
        timeout=int(policy.challenge_ttl.total_seconds() * 1000),
        user_verification=UserVerificationRequirement.PREFERRED,
    )
    return {"challenge_id": challenge_id, "publicKey": options_to_json_dict(options)}


async def webauthn_login(
    session: AsyncSession, office: CardOffice, attempt: dict[str, Any], now: dt.datetime
) -> LoginResult:
    """``attempt``: operator, password, challenge_id and the card's ``credential`` (the
    PublicKeyCredential as JSON). The card first (a fresh challenge of this office,
    signed by a card registered to that operator), then the password."""
    tables, cards, node, policy, key, site = _parts(office)
    slug = str(attempt.get("operator", ""))
    expected = _expected(key, node, policy, str(attempt.get("challenge_id", "")), now)
    if expected is None:
        return LoginResult(None, "challenge_unknown_or_expired", ANONYMOUS)
    challenge, nonce, expires = expected
    try:
        credential = parse_authentication_credential_json(attempt.get("credential") or {})
    except (InvalidAuthenticationResponse, ValueError, TypeError, KeyError):
        return LoginResult(None, "card_untrusted", ANONYMOUS)
    c = cards.credentials
    row = (
        await session.execute(
            select(c).where(c.c.credential_id == credential.id, c.c.operator == slug)
        )
    ).first()
    if row is None:
        return LoginResult(None, "wrong_card", ANONYMOUS)
    try:
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=site.rp_id,
            expected_origin=site.origin,
            credential_public_key=row.public_key,
            credential_current_sign_count=row.sign_count,
        )
    except InvalidAuthenticationResponse:
        return LoginResult(None, "bad_card_signature", ANONYMOUS)
    t = tables.operators
    operator = (await session.execute(select(t).where(t.c.slug == slug))).first()
    if operator is None:
        return LoginResult(None, "unknown_operator", ANONYMOUS)
    refused = _card_refusal(office, operator, row.card_fingerprint, now)
    if refused is not None:
        return LoginResult(None, refused, ANONYMOUS)
    actor = Actor(card_principal(node, slug).uri, Role(operator.role), slug)
    if not await _take_challenge(
        session, tables, str(attempt["challenge_id"]), nonce, expires, now
    ):
        return LoginResult(None, "challenge_replayed", actor, proven=True)
    await session.execute(
        update(c)
        .where(c.c.credential_id == credential.id)
        .values(sign_count=verified.new_sign_count, last_used_at=now)
    )
    password = str(attempt.get("password", ""))
    return await _with_password(session, tables, operator, actor, policy, password, now)


def _card_refusal(
    office: CardOffice, operator: Any, enrolled_for: str, now: dt.datetime
) -> str | None:
    """The operator's registered IC card, for which this authenticator was enrolled, as
    the API's card login checks it: the same card (a replaced card's enrolments stop
    working), chaining to the federation CA, valid now and not revoked."""
    if enrolled_for != operator.card_fingerprint:
        return "wrong_card"
    try:
        cert = x509.load_pem_x509_certificate(str(operator.card_certificate).encode())
        verify_presented(office.trust, cert, purpose=Purpose.SIGN, at=now)
    except CertificateExpired:
        return "card_expired"
    except CertificateRevoked:
        return "card_revoked"
    except (PkiError, ValueError):
        return "card_untrusted"
    return None


# --- enrolment --------------------------------------------------------------------------


def _code_hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


async def issue_enrolment(
    session: AsyncSession,
    tables: OperatorTables,
    cards: WebAuthnTables,
    slug: str,
    now: dt.datetime,
    ttl: dt.timedelta = ENROLMENT_TTL,
) -> str | None:
    """A one-time code with which ``slug`` registers a card (replacing an unused one);
    None if there is no such operator."""
    t, e = tables.operators, cards.enrolments
    if (await session.execute(select(t.c.slug).where(t.c.slug == slug))).first() is None:
        return None
    code = "-".join(secrets.token_hex(2).upper() for _ in range(4))  # e.g. 3F2A-…
    await session.execute(delete(e).where(e.c.operator == slug))
    await session.execute(
        e.insert().values(operator=slug, code_hash=_code_hash(code), expires_at=now + ttl)
    )
    return code


def registration_options(
    key: bytes, node: Principal, policy: AuthPolicy, site: BrowserCard, slug: str, now: dt.datetime
) -> dict[str, Any]:
    """What the enrolment page hands ``navigator.credentials.create``: a discoverable
    credential for this operator, bound to a fresh challenge of this office."""
    challenge_id, challenge = _fresh(key, node, policy, now)
    options = generate_registration_options(
        rp_id=site.rp_id,
        rp_name=site.rp_name,
        user_name=slug,
        user_id=hashlib.sha256(card_principal(node, slug).uri.encode()).digest()[:32],
        challenge=challenge,
        timeout=int(policy.challenge_ttl.total_seconds() * 1000),
        attestation=AttestationConveyancePreference.NONE
        if site.makers is None
        else AttestationConveyancePreference.DIRECT,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
    )
    return {"challenge_id": challenge_id, "publicKey": options_to_json_dict(options)}


async def enrol_card(
    session: AsyncSession, office: CardOffice, attempt: dict[str, Any], now: dt.datetime
) -> str | None:
    """Register the card in ``attempt`` (operator, password, code, challenge_id,
    credential) to its operator; the failure's cause, or None. The code is spent by a
    valid attempt only; the operator's other cards stay registered."""
    tables, cards, node, policy, key, site = _parts(office)
    slug = str(attempt.get("operator", ""))
    e, t = cards.enrolments, tables.operators
    pending = (await session.execute(select(e).where(e.c.operator == slug))).first()
    code = str(attempt.get("code", "")).strip().upper()
    if pending is None or pending.expires_at < now:
        return "no_enrolment"
    if not hmac.compare_digest(pending.code_hash, _code_hash(code)):
        return "wrong_code"
    operator = (await session.execute(select(t).where(t.c.slug == slug))).first()
    if operator is None or operator.disabled:
        return "no_enrolment"
    password = str(attempt.get("password", ""))
    if not await asyncio.to_thread(_password_ok, operator.password_hash, password):
        return "wrong_password"
    expected = _expected(key, node, policy, str(attempt.get("challenge_id", "")), now)
    if expected is None:
        return "challenge_unknown_or_expired"
    try:
        verified = verify_registration_response(
            credential=attempt.get("credential") or {},
            expected_challenge=expected[0],
            expected_rp_id=site.rp_id,
            expected_origin=site.origin,
            pem_root_certs_bytes_by_fmt=None if site.makers is None else site.makers.by_format(),
        )
    except (InvalidRegistrationResponse, ValueError, TypeError, KeyError):
        return "bad_card_signature"
    not_issued = None if site.makers is None else site.makers.refusal(verified)
    if not_issued is not None:
        return not_issued
    if _card_refusal(office, operator, operator.card_fingerprint, now) is not None:
        return "card_untrusted"
    if not await _take_challenge(session, tables, str(attempt["challenge_id"]), expected[1],
                                 expected[2], now):  # fmt: skip
        return "challenge_replayed"
    spent = await session.execute(
        delete(e).where(e.c.operator == slug, e.c.code_hash == pending.code_hash,
                        e.c.expires_at >= now)
    )  # fmt: skip
    if getattr(spent, "rowcount", 0) != 1:  # another attempt spent it first
        return "no_enrolment"
    await session.execute(
        cards.credentials.insert().values(
            credential_id=_b64url(verified.credential_id),
            operator=slug,
            card_fingerprint=operator.card_fingerprint,
            public_key=verified.credential_public_key,
            sign_count=verified.sign_count,
            created_at=now,
        )
    )
    return None


def _parts(
    o: CardOffice,
) -> tuple[OperatorTables, WebAuthnTables, Principal, AuthPolicy, bytes, BrowserCard]:
    """The office's parts, for the ceremonies that use most of them."""
    return o.tables, o.cards, o.node, o.policy, o.key, o.site


def _b64url(raw: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
