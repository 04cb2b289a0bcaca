"""Credentials of one principal on disk: one key and certificate per purpose."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, x25519
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from jukinet.contracts.principals import Principal, PrincipalKind
from jukinet.pki._authority import CA_CERT, CertificateAuthority
from jukinet.pki._errors import PkiError
from jukinet.pki._files import (
    make_private_dir,
    read_certificate,
    read_private_key,
    write_certificate,
    write_private_key,
)
from jukinet.pki._purpose import Purpose, generate_key
from jukinet.pki._revocation import fingerprint

__all__ = ["Credentials", "PkiLayout", "purposes_for"]

_NODE_KINDS = (PrincipalKind.AGENCY, PrincipalKind.PREFECTURE, PrincipalKind.MUNICIPALITY)


HTTPS_CERT, HTTPS_KEY = "https.crt", "https.key"
LOCAL_HOSTS = ("localhost", "127.0.0.1")  # where a local federation serves its lookups
# nodes that serve lookups over HTTPS to ministries and prefecture bodies
SERVING_KINDS = frozenset({PrincipalKind.AGENCY, PrincipalKind.PREFECTURE})


def purposes_for(kind: PrincipalKind) -> tuple[Purpose, ...]:
    """Which key pairs a kind of principal holds."""
    if kind in _NODE_KINDS:
        return (Purpose.TLS, Purpose.SIGN, Purpose.KEX)
    if kind is PrincipalKind.OPERATOR:
        return (Purpose.SIGN,)  # the IC card
    return (Purpose.TLS,)  # ministry clients and the operations identity


@dataclass(frozen=True)
class PkiLayout:
    """Where the files of a federation PKI live under one root directory.

    ``ca/`` holds the CA key (only the CLI reads it); ``ca.crt`` is the public trust
    anchor; ``nodes/<slug>/`` holds one principal's keys and certificates;
    ``directory/`` holds the public certificates every node may read.
    """

    root: Path

    @property
    def ca_dir(self) -> Path:
        return self.root / "ca"

    @property
    def ca_cert(self) -> Path:
        return self.root / CA_CERT

    @property
    def revocations(self) -> Path:
        return self.root / "revoked.json"

    @property
    def directory(self) -> Path:
        return self.root / "directory"

    def node_dir(self, principal: Principal) -> Path:
        return self.root / "nodes" / principal.slug

    def public_cert(self, principal: Principal, purpose: Purpose) -> Path:
        return self.directory / f"{principal.slug}.{purpose.value}.crt"

    def issue(
        self,
        ca: CertificateAuthority,
        principal: Principal,
        *,
        validity: dt.timedelta,
        now: dt.datetime | None = None,
        hosts: Sequence[str] = (),
    ) -> Credentials:
        """Generate fresh keys for every purpose of ``principal`` and certify them; for a
        node that serves lookups, also its HTTPS server certificate for ``hosts`` (the
        names and addresses it is served on), when any are given."""
        node = self.node_dir(principal)
        make_private_dir(node)
        self.directory.mkdir(parents=True, exist_ok=True)
        write_certificate(self.ca_cert, ca.certificate)
        for purpose in purposes_for(principal.kind):
            self._archive(principal, purpose)
            key = generate_key(purpose)
            cert = ca.issue(principal, purpose, key.public_key(), validity=validity, now=now)
            write_private_key(node / f"{purpose.value}.key", key)
            write_certificate(node / f"{purpose.value}.crt", cert)
            write_certificate(self.public_cert(principal, purpose), cert)
        if hosts and principal.kind in SERVING_KINDS:
            https_key = ec.generate_private_key(ec.SECP256R1())
            https = ca.issue_https(principal, https_key, hosts=hosts, validity=validity, now=now)
            write_private_key(node / HTTPS_KEY, https_key)
            write_certificate(node / HTTPS_CERT, https)
        return Credentials.load(node, self.ca_cert, principal)

    def _archive(self, principal: Principal, purpose: Purpose) -> None:
        """Keep a replaced public certificate: signatures it made stay verifiable."""
        current = self.public_cert(principal, purpose)
        if current.exists():
            archive = self.directory / "archive"
            archive.mkdir(exist_ok=True)
            cert = read_certificate(current)
            write_certificate(
                archive / f"{principal.slug}.{purpose.value}.{fingerprint(cert)}.crt", cert
            )

    def signing_history(self, principal: Principal) -> list[x509.Certificate]:
        """The principal's current and earlier signing certificates."""
        archive = self.directory / "archive"
        earlier = sorted(archive.glob(f"{principal.slug}.{Purpose.SIGN.value}.*.crt"))
        current = self.public_cert(principal, Purpose.SIGN)
        return [read_certificate(p) for p in [*earlier, current] if p.exists()]

    @property
    def broker_dir(self) -> Path:
        return self.root / "nodes" / "broker"

    def issue_broker(
        self,
        ca: CertificateAuthority,
        *,
        dns_names: list[str],
        validity: dt.timedelta,
        ip_addresses: tuple[str, ...] = ("127.0.0.1",),
    ) -> Path:
        """The broker's TLS certificate and key, in ``nodes/broker/``."""
        make_private_dir(self.broker_dir)
        key = ec.generate_private_key(ec.SECP256R1())
        cert = ca.issue_server(
            key, dns_names=dns_names, ip_addresses=list(ip_addresses), validity=validity
        )
        write_private_key(self.broker_dir / "tls.key", key)
        write_certificate(self.broker_dir / "tls.crt", cert)
        write_certificate(self.ca_cert, ca.certificate)
        return self.broker_dir


@dataclass(frozen=True)
class Credentials:
    """A principal's loaded credentials. Keys absent for its kind are None."""

    principal: Principal
    directory: Path
    ca_cert_path: Path
    signing_key: ed25519.Ed25519PrivateKey | None
    signing_cert: x509.Certificate | None
    kex_key: x25519.X25519PrivateKey | None
    kex_cert: x509.Certificate | None

    @property
    def tls_cert_path(self) -> Path:
        return self.directory / "tls.crt"

    @property
    def tls_key_path(self) -> Path:
        return self.directory / "tls.key"

    @property
    def https_cert_path(self) -> Path:
        """The HTTPS server certificate (host names, for standard clients), or the TLS
        certificate where none was issued (only the principal URI, as before)."""
        https = self.directory / HTTPS_CERT
        return https if https.exists() else self.tls_cert_path

    @property
    def https_key_path(self) -> Path:
        https = self.directory / HTTPS_KEY
        return https if (self.directory / HTTPS_CERT).exists() else self.tls_key_path

    @property
    def ca_certificate(self) -> x509.Certificate:
        return read_certificate(self.ca_cert_path)

    def require_signing(self) -> tuple[ed25519.Ed25519PrivateKey, x509.Certificate]:
        if self.signing_key is None or self.signing_cert is None:
            raise PkiError(f"{self.principal.slug} holds no signing key")
        return self.signing_key, self.signing_cert

    def require_kex(self) -> tuple[x25519.X25519PrivateKey, x509.Certificate]:
        if self.kex_key is None or self.kex_cert is None:
            raise PkiError(f"{self.principal.slug} holds no key-agreement key")
        return self.kex_key, self.kex_cert

    @classmethod
    def load(cls, directory: Path, ca_cert_path: Path, principal: Principal) -> Credentials:
        signing_key, signing_cert = _load_pair(directory, Purpose.SIGN)
        kex_key, kex_cert = _load_pair(directory, Purpose.KEX)
        if signing_key is not None and not isinstance(signing_key, ed25519.Ed25519PrivateKey):
            raise PkiError("sign.key is not an Ed25519 key")
        if kex_key is not None and not isinstance(kex_key, x25519.X25519PrivateKey):
            raise PkiError("kex.key is not an X25519 key")
        return cls(principal, directory, ca_cert_path, signing_key, signing_cert, kex_key, kex_cert)


def _load_pair(
    directory: Path, purpose: Purpose
) -> tuple[PrivateKeyTypes | None, x509.Certificate | None]:
    key_path = directory / f"{purpose.value}.key"
    if not key_path.exists():
        return None, None
    return read_private_key(key_path), read_certificate(directory / f"{purpose.value}.crt")
