"""Key purposes: one key pair per purpose, all bound to the same principal."""

from __future__ import annotations

from enum import StrEnum

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, x25519
from cryptography.x509.oid import ExtendedKeyUsageOID


class Purpose(StrEnum):
    TLS = "tls"  # ECDSA P-256: mutual TLS to the broker and HTTPS APIs
    SIGN = "sign"  # Ed25519: envelope signatures, IC-card challenges
    KEX = "kex"  # X25519: key agreement for envelope encryption


NodeKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | x25519.X25519PrivateKey


def generate_key(purpose: Purpose) -> NodeKey:
    if purpose is Purpose.TLS:
        return ec.generate_private_key(ec.SECP256R1())
    if purpose is Purpose.SIGN:
        return ed25519.Ed25519PrivateKey.generate()
    return x25519.X25519PrivateKey.generate()


def _usage(**flags: bool) -> x509.KeyUsage:
    names = (
        "digital_signature",
        "content_commitment",
        "key_encipherment",
        "data_encipherment",
        "key_agreement",
        "key_cert_sign",
        "crl_sign",
        "encipher_only",
        "decipher_only",
    )
    return x509.KeyUsage(**{name: flags.get(name, False) for name in names})


def key_usage(purpose: Purpose) -> x509.KeyUsage:
    if purpose is Purpose.TLS:
        return _usage(digital_signature=True)
    if purpose is Purpose.SIGN:
        return _usage(digital_signature=True, content_commitment=True)
    return _usage(key_agreement=True)


CA_KEY_USAGE = _usage(key_cert_sign=True, crl_sign=True)

TLS_EKU = x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH])


def purpose_matches(cert: x509.Certificate, purpose: Purpose) -> bool:
    """True when the certificate's key type and key usage fit ``purpose``."""
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return False
    key = cert.public_key()
    if purpose is Purpose.TLS:
        return isinstance(key, ec.EllipticCurvePublicKey) and usage.digital_signature
    if purpose is Purpose.SIGN:
        return isinstance(key, ed25519.Ed25519PublicKey) and usage.content_commitment
    return isinstance(key, x25519.X25519PublicKey) and usage.key_agreement
