"""Sealing: sign with the sender's Ed25519 key (JWS), then encrypt to the recipient (JWE)."""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import x25519

from jukinet.contracts.principals import Principal
from jukinet.envelope._directory import RecipientDirectory, der_b64, thumbprint
from jukinet.envelope._jwe import encrypt_compact
from jukinet.envelope._jws import ALG, CompactSigner
from jukinet.envelope._model import FORWARD_TYPE, SignedMessage, forward_item, new_message_id
from jukinet.pki import Credentials, PkiError, fingerprint, utcnow

__all__ = ["JWS_TYPE", "Sealed", "Sealer"]

JWS_TYPE = "jukinet-msg+jws"


@dataclass(frozen=True, slots=True)
class Sealed:
    message_id: str
    sequence: int
    token: str


@functools.lru_cache(maxsize=256)
def _agreement_key(cert: x509.Certificate) -> x25519.X25519PublicKey:
    """A recipient's key, read once per certificate."""
    public = cert.public_key()
    if not isinstance(public, x25519.X25519PublicKey):
        raise PkiError("recipient certificate does not hold an X25519 key")
    return public


class Sealer:
    """Seals messages from one principal. Keys are loaded once; sealing is pure CPU."""

    def __init__(
        self,
        credentials: Credentials,
        recipients: RecipientDirectory,
        *,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        signing_key, signing_cert = credentials.require_signing()
        self.principal = credentials.principal
        header = {"alg": ALG, "typ": JWS_TYPE, "x5c": [der_b64(signing_cert)]}
        self._signer = CompactSigner(signing_key, header)
        self.signer_fingerprint = fingerprint(signing_cert)
        self._recipients = recipients
        self._clock = clock

    def sign(
        self,
        *,
        audience: Principal,
        type: str,
        payload: dict[str, Any],
        sequence: int,
        ttl: dt.timedelta,
        message_id: str | None = None,
    ) -> tuple[str, str]:
        """Return (message id, JWS compact) without encrypting."""
        now = int(self._clock().timestamp())
        message_id = message_id or new_message_id()
        claims = {
            "iss": self.principal.uri,
            "aud": audience.uri,
            "jti": message_id,
            "iat": now,
            "exp": now + int(ttl.total_seconds()),
            "seq": sequence,
            "typ": type,
            "body": payload,
        }
        data = json.dumps(claims, ensure_ascii=False, separators=(",", ":")).encode()
        return message_id, self._signer.sign(data)

    def check_recipient(self, audience: Principal) -> None:
        """Raise if nothing can be sealed to ``audience`` now: ``FileNotFoundError`` when
        it has no key-agreement certificate here yet, :class:`PkiError` when the one it
        has is not valid (expired, another CA, another principal)."""
        self._recipients.kex_certificate(audience)

    def encrypt(self, signed: str, audience: Principal) -> str:
        cert = self._recipients.kex_certificate(audience)
        header = {"cty": JWS_TYPE, "kid": audience.uri, "x5t#S256": thumbprint(cert)}
        return encrypt_compact(header, signed.encode(), _agreement_key(cert))

    def seal(
        self,
        *,
        audience: Principal,
        type: str,
        payload: dict[str, Any],
        sequence: int,
        ttl: dt.timedelta,
        message_id: str | None = None,
    ) -> Sealed:
        message_id, signed = self.sign(
            audience=audience,
            type=type,
            payload=payload,
            sequence=sequence,
            ttl=ttl,
            message_id=message_id,
        )
        return Sealed(message_id, sequence, self.encrypt(signed, audience))

    def forward(
        self, origin: SignedMessage, *, audience: Principal, sequence: int, ttl: dt.timedelta
    ) -> Sealed:
        """Pass ``origin`` on to ``audience``: the origin's own JWS travels untouched inside
        a new message signed by this node, so the final recipient verifies both hops."""
        return self.seal(
            audience=audience,
            type=FORWARD_TYPE,
            payload=forward_item(origin),
            sequence=sequence,
            ttl=ttl,
        )
