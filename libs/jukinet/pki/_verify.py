"""Verifying a certificate against the federation CA, its validity, purpose and identity."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.x509.verification import (
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from jukinet.contracts.principals import InvalidPrincipal, Principal
from jukinet.pki._errors import (
    CertificateExpired,
    IdentityMismatch,
    UntrustedCertificate,
    WrongPurpose,
)
from jukinet.pki._purpose import Purpose, purpose_matches
from jukinet.pki._revocation import RevocationList

__all__ = ["TrustStore", "principal_of"]

_MAX_REMEMBERED = 10_000


def principal_of(cert: x509.Certificate) -> Principal:
    """The one principal a certificate names in its URI SAN."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        raise IdentityMismatch("certificate has no subject alternative name") from None
    uris = san.get_values_for_type(x509.UniformResourceIdentifier)
    if len(uris) != 1 or len(list(san)) != 1:
        raise IdentityMismatch("certificate must name exactly one principal URI")
    try:
        return Principal.parse(uris[0])
    except InvalidPrincipal as exc:
        raise IdentityMismatch(str(exc)) from None


@dataclass
class TrustStore:
    """The federation trust anchor and the checks every received certificate goes through.

    Checks run in a fixed order, each with its own error: chain to the CA, validity
    period at ``at``, purpose, then identity.
    """

    ca: x509.Certificate
    revocations: RevocationList | None = None
    _store: Store = field(init=False, repr=False)
    _chained: set[x509.Certificate] = field(init=False, repr=False, default_factory=set)

    def __post_init__(self) -> None:
        self._store = Store([self.ca])

    def verify_chain(self, cert: x509.Certificate) -> None:
        """The certificate is signed by the federation CA (judged inside its own validity).

        A certificate that once chained always does (the CA is fixed for this store), so
        successes are remembered by the whole certificate (compared on its entire DER
        encoding, never on a part an attacker could copy); validity is still checked on
        every use.
        """
        if cert in self._chained:  # hashed and compared on the whole DER encoding
            return
        self._verify_chain(cert)
        if len(self._chained) >= _MAX_REMEMBERED:
            self._chained.clear()
        self._chained.add(cert)

    def _verify_chain(self, cert: x509.Certificate) -> None:
        start = max(cert.not_valid_before_utc, self.ca.not_valid_before_utc)
        end = min(cert.not_valid_after_utc, self.ca.not_valid_after_utc)
        if start > end:
            raise CertificateExpired("certificate is not valid at any time the CA is")
        moment = min(start + dt.timedelta(seconds=1), end)
        verifier = (
            PolicyBuilder()
            .store(self._store)
            .time(moment)
            .extension_policies(
                ca_policy=ExtensionPolicy.webpki_defaults_ca(),
                ee_policy=ExtensionPolicy.permit_all(),
            )
            .build_client_verifier()
        )
        try:
            verifier.verify(cert, [])
        except VerificationError:
            raise UntrustedCertificate("certificate does not chain to the federation CA") from None

    def revoked_at(self, cert: x509.Certificate) -> dt.datetime | None:
        return self.revocations.revoked_at(cert) if self.revocations is not None else None

    @staticmethod
    def verify_validity(cert: x509.Certificate, at: dt.datetime) -> None:
        if not cert.not_valid_before_utc <= at <= cert.not_valid_after_utc:
            raise CertificateExpired(f"certificate of {_label(cert)} is not valid at this time")

    def verify(
        self,
        cert: x509.Certificate,
        *,
        purpose: Purpose,
        at: dt.datetime,
        expected: Principal | None = None,
    ) -> Principal:
        """Run every check; return the principal the certificate names."""
        self.verify_chain(cert)
        self.verify_validity(cert, at)
        if not self.ca.not_valid_before_utc <= at <= self.ca.not_valid_after_utc:
            raise CertificateExpired("the federation CA certificate is not valid at this time")
        if not purpose_matches(cert, purpose):
            raise WrongPurpose(f"certificate is not a {purpose.value} certificate")
        principal = principal_of(cert)
        if expected is not None and principal != expected:
            raise IdentityMismatch(f"certificate names {principal}, expected {expected}")
        return principal


def _label(cert: x509.Certificate) -> str:
    try:
        return str(principal_of(cert))
    except IdentityMismatch:
        return "an unnamed principal"
