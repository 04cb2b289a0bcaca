"""The federation PKI: a CA, per-purpose credentials for every principal, verification."""

from jukinet.pki._authority import CertificateAuthority, utcnow
from jukinet.pki._credentials import (
    HTTPS_CERT,
    LOCAL_HOSTS,
    SERVING_KINDS,
    Credentials,
    PkiLayout,
    purposes_for,
)
from jukinet.pki._errors import (
    CertificateExpired,
    IdentityMismatch,
    PkiError,
    UntrustedCertificate,
    WrongPurpose,
)
from jukinet.pki._files import read_certificate, read_private_key
from jukinet.pki._live import (
    CertificateRevoked,
    PresentedCertificates,
    fingerprint_revoked,
    verify_presented,
)
from jukinet.pki._purpose import Purpose
from jukinet.pki._renew import BROKER, credentials_expiry, renew_expiring
from jukinet.pki._revocation import RevocationList, fingerprint, revoke
from jukinet.pki._verify import TrustStore, principal_of

__all__ = [
    "BROKER",
    "HTTPS_CERT",
    "LOCAL_HOSTS",
    "SERVING_KINDS",
    "CertificateAuthority",
    "CertificateExpired",
    "CertificateRevoked",
    "Credentials",
    "IdentityMismatch",
    "PkiError",
    "PkiLayout",
    "PresentedCertificates",
    "Purpose",
    "RevocationList",
    "TrustStore",
    "UntrustedCertificate",
    "WrongPurpose",
    "credentials_expiry",
    "fingerprint",
    "fingerprint_revoked",
    "principal_of",
    "purposes_for",
    "read_certificate",
    "read_private_key",
    "renew_expiring",
    "revoke",
    "utcnow",
    "verify_presented",
]
