"""Certificates made outside the federation CA, for tests of what must refuse them."""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import NameOID

from jukinet.contracts.principals import Principal
from jukinet.pki import utcnow


def self_signed(key: ed25519.Ed25519PrivateKey, principal: Principal) -> x509.Certificate:
    """A certificate naming ``principal`` as the federation's would, signed by its own key."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, principal.slug)])
    now = utcnow()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier(principal.uri)]),
            critical=False,
        )
        .sign(key, None)
    )
