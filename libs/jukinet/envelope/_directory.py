"""Recipients' key-agreement certificates, verified before anything is encrypted to them."""

from __future__ import annotations

import base64
import datetime as dt
import functools
from collections.abc import Callable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from jukinet.contracts.principals import Principal
from jukinet.pki import PkiLayout, Purpose, TrustStore, read_certificate, utcnow

__all__ = ["RecipientDirectory", "thumbprint"]


@functools.lru_cache(maxsize=1024)
def thumbprint(cert: x509.Certificate) -> str:
    """The JOSE ``x5t#S256`` value of a certificate (computed once per certificate)."""
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
        self._cache: dict[Principal, tuple[float, x509.Certificate]] = {}
        self._paths: dict[Principal, Path] = {}

    @classmethod
    def from_layout(
        cls, layout: PkiLayout, trust: TrustStore, *, clock: Callable[[], dt.datetime] = utcnow
    ) -> RecipientDirectory:
        return cls(trust, lambda p: layout.public_cert(p, Purpose.KEX), clock=clock)

    def kex_certificate(self, principal: Principal) -> x509.Certificate:
        """The recipient's current certificate; read again when its file changes (a
        rotation) or it expires."""
        path = self._paths.get(principal)
        if path is None:
            path = self._paths[principal] = self._lookup(principal)
        stamp = path.stat().st_mtime
        cached = self._cache.get(principal)
        now = self._clock()
        if cached is not None and cached[0] == stamp:
            cert = cached[1]
            if cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
                return cert
        cert = read_certificate(path)
        self._trust.verify(cert, purpose=Purpose.KEX, at=now, expected=principal)
        self._cache[principal] = (stamp, cert)
        return cert
