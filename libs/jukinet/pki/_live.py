"""Certificates presented live (a TLS client certificate, an operator's card): refused
from the moment of their revocation, whatever the connection or session they came with.

The revocation list is the file `jukinet pki rotate` writes; :class:`RevocationList`
re-reads it whenever it changes, so a running server needs no restart to apply it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509

from jukinet.contracts.principals import Principal
from jukinet.pki._errors import CertificateExpired, PkiError
from jukinet.pki._purpose import Purpose
from jukinet.pki._revocation import fingerprint
from jukinet.pki._verify import TrustStore

__all__ = [
    "CertificateRevoked",
    "PresentedCertificates",
    "fingerprint_revoked",
    "verify_presented",
]


class CertificateRevoked(PkiError):
    """The certificate was revoked at or before the moment it is presented."""

    code = "certificate_revoked"


def verify_presented(
    trust: TrustStore, cert: x509.Certificate, *, purpose: Purpose, at: dt.datetime
) -> Principal:
    """Every check of :meth:`TrustStore.verify`, then: not revoked at ``at``."""
    principal = trust.verify(cert, purpose=purpose, at=at)
    revoked = trust.revoked_at(cert)
    if revoked is not None and revoked <= at:
        raise CertificateRevoked(f"the certificate of {principal} was revoked")
    return principal


def fingerprint_revoked(trust: TrustStore, digest: str, at: dt.datetime) -> bool:
    """Whether the certificate with this fingerprint was revoked at or before ``at``."""
    if trust.revocations is None:
        return False
    revoked = trust.revocations.revoked_at_fingerprint(digest)
    return revoked is not None and revoked <= at


@dataclass(frozen=True)
class _Verified:
    principal: Principal
    fingerprint: str
    not_before: dt.datetime
    not_after: dt.datetime


class PresentedCertificates:
    """:func:`verify_presented` for certificates presented again and again (a client's
    keep-alive connections): the chain, purpose and name are checked once per distinct
    certificate; its validity period, the CA's, and the revocation list are checked on
    every presentation, so nothing a check refuses is ever accepted from the cache."""

    def __init__(self, trust: TrustStore, purpose: Purpose, *, size: int = 4096) -> None:
        self._trust = trust
        self._purpose = purpose
        self._size = size
        self._seen: dict[str, _Verified] = {}

    def verify(self, pem: str, at: dt.datetime) -> Principal:
        known = self._seen.get(pem)
        if known is None:
            cert = x509.load_pem_x509_certificate(pem.encode())
            principal = verify_presented(self._trust, cert, purpose=self._purpose, at=at)
            known = _Verified(
                principal, fingerprint(cert), cert.not_valid_before_utc, cert.not_valid_after_utc
            )
            if len(self._seen) >= self._size:
                del self._seen[next(iter(self._seen))]  # the oldest first
            self._seen[pem] = known
            return principal
        ca = self._trust.ca
        if not known.not_before <= at <= known.not_after:
            raise CertificateExpired(f"certificate of {known.principal} is not valid at this time")
        if not ca.not_valid_before_utc <= at <= ca.not_valid_after_utc:
            raise CertificateExpired("the federation CA certificate is not valid at this time")
        if fingerprint_revoked(self._trust, known.fingerprint, at):
            raise CertificateRevoked(f"the certificate of {known.principal} was revoked")
        return known.principal
