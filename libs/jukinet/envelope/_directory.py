"""Recipients' key-agreement certificates, verified before anything is encrypted to them."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from jukinet.pki import PkiLayout, Purpose, TrustStore, read_certificate, utcnow
from jukinet.principals import Principal

__all__ = ["RecipientDirectory", "thumbprint"]


def thumbprint(cert: x509.Certificate) -> str:
    """The JOSE ``x5t#S256`` value of a certificate."""
    digest = cert.fingerprint(hashes.SHA256())
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def der_b64(cert: x509.Certificate) -> str:
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


class RecipientDirectory:
    """Looks up a principal's key-agreement certificate and checks it names that principal."""

    def __init__(
        self,
        trust: TrustStore,
        lookup: Callable[[Principal], Path],
        *,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self._trust = trust
        self._lookup = lookup
        self._clock = clock
        self._cache: dict[Principal, x509.Certificate] = {}

    @classmethod
    def from_layout(
        cls, layout: PkiLayout, trust: TrustStore, *, clock: Callable[[], dt.datetime] = utcnow
    ) -> RecipientDirectory:
        return cls(trust, lambda p: layout.public_cert(p, Purpose.KEX), clock=clock)

    def kex_certificate(self, principal: Principal) -> x509.Certificate:
        cert = self._cache.get(principal)
        now = self._clock()
        if cert is None or not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            cert = read_certificate(self._lookup(principal))
            self._trust.verify(cert, purpose=Purpose.KEX, at=now, expected=principal)
            self._cache[principal] = cert
        return cert
