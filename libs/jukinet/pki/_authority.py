"""The federation certificate authority: one CA key that issues every principal's certificates."""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from jukinet.contracts.principals import Principal
from jukinet.pki._errors import PkiError
from jukinet.pki._files import (
    make_private_dir,
    read_certificate,
    read_private_key,
    write_certificate,
    write_private_key,
)
from jukinet.pki._purpose import CA_KEY_USAGE, TLS_EKU, Purpose, key_usage

CA_CERT = "ca.crt"
CA_KEY = "ca.key"
_BACKDATE = dt.timedelta(minutes=5)
_ORG = "jukinet federation"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class CertificateAuthority:
    """The CA's key and certificate. Only `jukinet pki` holds it; nodes hold ``ca.crt`` only."""

    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate

    @classmethod
    def create(
        cls,
        directory: Path,
        *,
        validity: dt.timedelta,
        now: dt.datetime | None = None,
        name: str = "jukinet federation CA",
    ) -> CertificateAuthority:
        now = now or utcnow()
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, _ORG),
                x509.NameAttribute(NameOID.COMMON_NAME, name),
            ]
        )
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _BACKDATE)
            .not_valid_after(now + validity)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(CA_KEY_USAGE, critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, hashes.SHA256())
        )
        make_private_dir(directory)
        write_private_key(directory / CA_KEY, key)
        write_certificate(directory / CA_CERT, cert)
        return cls(key, cert)

    @classmethod
    def load(cls, directory: Path) -> CertificateAuthority:
        key = read_private_key(directory / CA_KEY)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise PkiError("the federation CA key must be an ECDSA key")
        return cls(key, read_certificate(directory / CA_CERT))

    def issue(
        self,
        principal: Principal,
        purpose: Purpose,
        public_key: CertificatePublicKeyTypes,
        *,
        validity: dt.timedelta,
        now: dt.datetime | None = None,
    ) -> x509.Certificate:
        """Issue a leaf certificate whose only SAN is the principal's URI."""
        now = now or utcnow()
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, _ORG),
                x509.NameAttribute(NameOID.COMMON_NAME, f"{principal.slug} {purpose.value}"),
            ]
        )
        ca_public = self.key.public_key()
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.certificate.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _BACKDATE)
            .not_valid_after(now + validity)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(key_usage(purpose), critical=True)
            .add_extension(
                x509.SubjectAlternativeName([x509.UniformResourceIdentifier(principal.uri)]),
                critical=True,
            )
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_public), False)
        )
        if purpose is Purpose.TLS:
            builder = builder.add_extension(TLS_EKU, critical=False)
        return builder.sign(self.key, hashes.SHA256())

    def issue_https(
        self,
        principal: Principal,
        key: ec.EllipticCurvePrivateKey,
        *,
        hosts: Sequence[str],
        validity: dt.timedelta,
        now: dt.datetime | None = None,
    ) -> x509.Certificate:
        """A node's HTTPS server certificate (its lookup server): the host names and
        addresses it is served on, for any standard client's hostname check, beside the
        principal URI, for clients that check the principal. Server auth only: it never
        authenticates the node to the broker or to another node."""
        names: list[x509.GeneralName] = [x509.UniformResourceIdentifier(principal.uri)]
        names += [_host_name(host) for host in hosts]
        server_only = x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH])
        return self._issue_tls_server(
            key, f"{principal.slug} https", names, server_only, validity, now or utcnow()
        )

    def issue_server(
        self,
        key: ec.EllipticCurvePrivateKey,
        *,
        dns_names: list[str],
        ip_addresses: list[str],
        validity: dt.timedelta,
        now: dt.datetime | None = None,
    ) -> x509.Certificate:
        """A broker certificate: host names for hostname checks, no principal URI (the
        broker is never a NATS user), server and client auth (cluster routes)."""
        names: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names]
        names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses]
        return self._issue_tls_server(
            key, "jukinet broker", names, TLS_EKU, validity, now or utcnow()
        )

    def _issue_tls_server(
        self,
        key: ec.EllipticCurvePrivateKey,
        common_name: str,
        names: list[x509.GeneralName],
        usage: x509.ExtendedKeyUsage,
        validity: dt.timedelta,
        now: dt.datetime,
    ) -> x509.Certificate:
        """A TLS server certificate for ``names`` with the extended ``usage`` given."""
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, _ORG),
                x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            ]
        )
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _BACKDATE)
            .not_valid_after(now + validity)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(key_usage(Purpose.TLS), critical=True)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(usage, critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), False
            )
            .sign(self.key, hashes.SHA256())
        )


def _host_name(host: str) -> x509.GeneralName:
    """An IP address SAN for an address, a DNS name SAN otherwise."""
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)
