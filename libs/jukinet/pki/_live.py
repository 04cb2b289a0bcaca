"""Certificates presented live (a TLS client certificate, an operator's card): refused
from the moment of their revocation, whatever the connection or session they came with.

The revocation list is the file `jukinet pki rotate` writes; :class:`RevocationList`
re-reads it whenever it changes, so a running server needs no restart to apply it.
"""

from __future__ import annotations

import datetime as dt

from cryptography import x509

from jukinet.contracts.principals import Principal
from jukinet.pki._errors import PkiError
from jukinet.pki._purpose import Purpose
from jukinet.pki._verify import TrustStore

__all__ = ["CertificateRevoked", "fingerprint_revoked", "verify_presented"]


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
