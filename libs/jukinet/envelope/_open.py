"""Opening: decrypt, then verify the signer and every claim, in a fixed order."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
import functools
import json
import re
from collections.abc import Callable
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ed25519

from jukinet.contracts.principals import InvalidPrincipal, Principal
from jukinet.envelope._errors import (
    BadSignature,
    DecryptionFailed,
    EnvelopeError,
    MalformedEnvelope,
    MessageExpired,
    MessageFromFuture,
    OriginInvalid,
    SignerCertificateExpired,
    SignerNotIssuer,
    SignerRevoked,
    UntrustedSigner,
    WrongAudience,
)
from jukinet.envelope._jwe import JweInvalid, decrypt_compact
from jukinet.envelope._jws import SignatureInvalid, read_header, verify_compact
from jukinet.envelope._model import ReplayGuard, SignedMessage, check_fresh
from jukinet.envelope._registry import MAX_TOKEN_BYTES
from jukinet.envelope._seal import JWS_TYPE
from jukinet.pki import (
    CertificateExpired,
    Credentials,
    PkiError,
    Purpose,
    TrustStore,
    UntrustedCertificate,
    utcnow,
)

__all__ = ["Opener", "verify_signed"]

_MESSAGE_ID = re.compile(r"[0-9a-f]{32}")
_TYPE = re.compile(r"[a-z][a-z0-9_.]{0,63}")
MAX_TTL_SECONDS = 30 * 24 * 3600
_CLAIMS = {"iss": str, "aud": str, "jti": str, "iat": int, "exp": int, "seq": int, "typ": str}


class Opener:
    """Opens envelopes addressed to one principal.

    ``open`` checks, in order: decryption; signer chain to the federation CA; the
    signature; signer certificate validity when it signed; signer = issuer; audience =
    this node; not expired and not from the future beyond ``skew``; then (with a guard)
    replay and sequence. Each failure raises its own :class:`EnvelopeError` subclass.
    """

    def __init__(
        self,
        credentials: Credentials,
        trust: TrustStore,
        *,
        clock: Callable[[], dt.datetime] = utcnow,
        skew: dt.timedelta = dt.timedelta(seconds=30),
    ) -> None:
        kex_key, _ = credentials.require_kex()
        self.principal = credentials.principal
        self._keys = [kex_key]
        self._trust = trust
        self._clock = clock
        self._skew = int(skew.total_seconds())

    def open(
        self,
        token: str | bytes,
        guard: ReplayGuard | None = None,
        *,
        stored_at: dt.datetime | None = None,
    ) -> SignedMessage:
        """Open and verify ``token``, judging revocation and expiry at ``stored_at`` — when
        the broker stored the message, which its sender cannot choose — or now, for a
        message that did not come through a stream (request/reply)."""
        signed = self.decrypt(token)
        at = stored_at or self._clock()
        message = verify_signed(signed, self._trust, at=at)
        if stored_at is not None:
            message = dataclasses.replace(message, stored_at=stored_at)
        if message.audience != self.principal:
            raise WrongAudience(f"message {message.message_id} is addressed to another node")
        self._check_time(message, at)
        if guard is not None:
            check_fresh(
                message,
                seen=guard.seen(message.message_id),
                last_sequence=guard.last_sequence(message.issuer),
            )
            guard.record(message)
        return message

    def decrypt(self, token: str | bytes) -> str:
        if len(token) > MAX_TOKEN_BYTES:
            raise MalformedEnvelope("envelope exceeds the size limit")
        try:
            text = token.decode("ascii") if isinstance(token, bytes) else token
            header, plaintext = self._decrypt(text)
        except Exception:
            raise DecryptionFailed("envelope could not be decrypted by this node") from None
        if header.get("cty") != JWS_TYPE:
            raise MalformedEnvelope("envelope does not contain a signed jukinet message")
        return plaintext.decode("ascii", errors="replace")

    def _decrypt(self, token: str) -> tuple[dict[str, Any], bytes]:
        """With the current key, else with a key this node had before a rotation (for
        messages sealed to it while its peers still held the old certificate)."""
        for key in self._keys[:-1]:
            try:
                return decrypt_compact(token, key)
            except JweInvalid:
                continue
        return decrypt_compact(token, self._keys[-1])

    def keep_previous_key(self, previous: Opener) -> None:
        """After a rotation: also open what was sealed to the keys ``previous`` held."""
        self._keys = [*self._keys, *previous._keys][:4]

    def origin(self, forward: SignedMessage) -> SignedMessage:
        """Verify the original signed message carried by a forward.

        The origin must verify on its own against the federation CA, and must have been
        addressed to the node that forwarded it.
        """
        token = forward.payload.get("origin")
        if not forward.is_forward or not isinstance(token, str):
            raise MalformedEnvelope(f"message {forward.message_id} is not a forward")
        return self.verify_origin(
            token,
            forwarder=forward.issuer,
            stored_at=forward.payload.get("stored_at_ms"),
            forwarded_at=forward.stored_at,
        )

    def verify_origin(
        self,
        token: str,
        *,
        forwarder: Principal,
        stored_at: object = None,
        forwarded_at: dt.datetime | None = None,
    ) -> SignedMessage:
        """Verify one forwarded original: it verifies on its own against the federation CA,
        was addressed to ``forwarder``, and is held to the rule every message is held to —
        its signer not revoked and itself not expired when the forwarder's broker stored
        it. That moment is ``stored_at`` (milliseconds since the epoch, as the forwarder
        attests in its own signed message; never later than ``forwarded_at``, when the
        forward was stored here); without it, ``forwarded_at``; without either, now."""
        try:
            at = self._origin_time(stored_at, forwarded_at)
            origin = verify_signed(token, self._trust, at=at)
            self._check_time(origin, at)
        except EnvelopeError as exc:
            raise OriginInvalid(f"origin: {exc.code}") from None
        if origin.audience != forwarder:
            raise OriginInvalid(f"origin {origin.message_id} was not sent to the forwarder")
        return origin

    def _origin_time(self, stored_at: object, forwarded_at: dt.datetime | None) -> dt.datetime:
        if stored_at is None:
            return forwarded_at or self._clock()
        if type(stored_at) is not int or not 0 <= stored_at < 2**50:
            raise MalformedEnvelope("the origin's storage time is not a time")
        at = dt.datetime.fromtimestamp(stored_at / 1000, dt.UTC)
        latest = (forwarded_at or self._clock()) + dt.timedelta(seconds=self._skew)
        if at > latest:
            raise MalformedEnvelope("the origin is said to be stored after its forward")
        return at

    def _check_time(self, message: SignedMessage, at: dt.datetime) -> None:
        """Refuse a message expired, or issued in the future, at ``at`` (beyond the skew);
        the message itself is authentic, so the error carries it as ``verified``."""
        ts = int(at.timestamp())
        if message.expires_at < ts - self._skew:
            raise MessageExpired(f"message {message.message_id} has expired", verified=message)
        if message.issued_at > ts + self._skew:
            raise MessageFromFuture(
                f"message {message.message_id} is issued in the future", verified=message
            )


def verify_signed(token: str, trust: TrustStore, *, at: dt.datetime) -> SignedMessage:
    """Verify a signed (not encrypted) message: chain, signature, validity, signer = issuer,
    then revocation.

    The signing certificate must have been valid when the message was signed (its
    ``iat``), and ``iat`` may lie at most the maximum message lifetime before ``at``.
    Revocation is judged at ``at`` — when the broker stored the message — never at the
    ``iat`` the signer claims: a revoked key cannot sign by backdating. An authentic
    message refused for revocation carries itself in the error (``verified``).
    """
    header, cert = _signer_certificate(token)
    try:
        trust.verify_chain(cert)
    except UntrustedCertificate:
        raise UntrustedSigner("signing certificate is not from the federation CA") from None
    # the signature is checked with the chained certificate's key before its validity:
    # the claims are then decoded once (a migration's message carries thousands of
    # changes), and the signing time judged is the one the signer really signed
    claims = _verified_claims(token, header, cert)
    signed_at = dt.datetime.fromtimestamp(claims["iat"], dt.UTC)
    too_old = signed_at < at - dt.timedelta(seconds=MAX_TTL_SECONDS)
    try:
        if too_old:
            raise CertificateExpired("signed too long ago")
        trust.verify_validity(cert, signed_at)
    except CertificateExpired:
        raise SignerCertificateExpired("signing certificate was not valid at signing") from None
    try:
        signer = trust.verify(cert, purpose=Purpose.SIGN, at=signed_at)
        issuer = Principal.parse(claims["iss"])
        audience = Principal.parse(claims["aud"])
    except CertificateExpired:
        raise SignerCertificateExpired("the federation CA was not valid at signing") from None
    except PkiError as exc:
        raise SignerNotIssuer(f"signing certificate refused: {exc.code}") from None
    except InvalidPrincipal:
        raise MalformedEnvelope("issuer or audience is not a principal URI") from None
    if signer != issuer:
        raise SignerNotIssuer(f"{signer} signed a message claiming to be from {issuer}")
    message = SignedMessage(
        issuer=issuer,
        audience=audience,
        message_id=claims["jti"],
        issued_at=claims["iat"],
        expires_at=claims["exp"],
        sequence=claims["seq"],
        type=claims["typ"],
        payload=claims["body"],
        token=token,
        signer=cert,
    )
    revoked = trust.revoked_at(cert)
    if revoked is not None and at >= revoked:
        raise SignerRevoked(
            f"signing certificate was revoked before message {message.message_id} was stored",
            verified=message,
        )
    return message


def _signer_certificate(token: str) -> tuple[dict[str, Any], x509.Certificate]:
    """The JWS header and the certificate it names (``x5c``), before the signature is
    checked: the signature check that follows is made with its key."""
    try:
        header = read_header(token)
        chain = header["x5c"]
        if not isinstance(chain, list) or not isinstance(chain[0], str):
            raise TypeError("x5c")
        return header, _certificate(chain[0])
    except (KeyError, IndexError, TypeError, ValueError, binascii.Error):
        raise MalformedEnvelope("signed message does not carry a signing certificate") from None


@functools.lru_cache(maxsize=1024)
def _certificate(x5c: str) -> x509.Certificate:
    """The certificate of a signer, parsed once per distinct certificate: a node's
    peers send the same few, and a parsed certificate keeps its parsed extensions."""
    return x509.load_der_x509_certificate(base64.b64decode(x5c, validate=True))


@functools.lru_cache(maxsize=1024)
def _verification_key(cert: x509.Certificate) -> ed25519.Ed25519PublicKey:
    public = cert.public_key()
    if not isinstance(public, ed25519.Ed25519PublicKey):
        raise SignerNotIssuer("signing certificate does not hold an Ed25519 key")
    return public


def _verified_claims(token: str, header: dict[str, Any], cert: x509.Certificate) -> dict[str, Any]:
    key = _verification_key(cert)
    try:
        payload = verify_compact(token, header, key)
    except SignatureInvalid:
        raise BadSignature("signature does not verify") from None
    try:
        claims = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        raise MalformedEnvelope("claims are not JSON") from None
    if not isinstance(claims, dict) or not isinstance(claims.get("body"), dict):
        raise MalformedEnvelope("claims are not an object with a body")
    for name, kind in _CLAIMS.items():
        if type(claims.get(name)) is not kind:
            raise MalformedEnvelope(f"claim {name} is missing or of the wrong type")
    if not _MESSAGE_ID.fullmatch(claims["jti"]) or not _TYPE.fullmatch(claims["typ"]):
        raise MalformedEnvelope("message id or type is not of the jukinet form")
    if not 1 <= claims["seq"] < 2**63 or not 0 <= claims["iat"] <= claims["exp"] < 2**40:
        raise MalformedEnvelope("sequence or times out of range")
    if claims["exp"] - claims["iat"] > MAX_TTL_SECONDS:
        raise MalformedEnvelope("message lifetime exceeds the federation maximum")
    return claims
