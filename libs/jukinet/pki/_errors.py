"""The PKI's exception tree. Messages name principals and reasons, never personal data."""

from __future__ import annotations

__all__ = [
    "CertificateExpired",
    "IdentityMismatch",
    "PkiError",
    "UntrustedCertificate",
    "WrongPurpose",
]


class PkiError(Exception):
    """Base of every PKI failure. ``code`` is a stable machine-readable reason."""

    code = "pki_error"


class UntrustedCertificate(PkiError):
    """The certificate does not chain to the federation CA."""

    code = "untrusted_certificate"


class CertificateExpired(PkiError):
    """The certificate is outside its validity period at the time of use."""

    code = "certificate_expired"


class IdentityMismatch(PkiError):
    """The certificate names another principal than the one expected."""

    code = "identity_mismatch"


class WrongPurpose(PkiError):
    """The certificate's key is not for the purpose it is used for."""

    code = "wrong_purpose"
