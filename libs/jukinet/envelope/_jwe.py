"""The envelope's compact JWE (RFC 7516): ECDH-ES direct key agreement over X25519
(RFC 8037) with the Concat KDF of RFC 7518 §4.6, content encrypted with A256GCM — made
and opened directly with ``cryptography``, for the reason :mod:`._jws` gives. Only this
one shape is produced or accepted; joserfc stays the reference (the tests check that each
opens the other's tokens)."""

from __future__ import annotations

import hashlib
import json
import os
import struct
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from jukinet.envelope._jws import b64url, b64url_decode

__all__ = ["ALG", "ENC", "JweInvalid", "decrypt_compact", "encrypt_compact"]

ALG, ENC = "ECDH-ES", "A256GCM"
_RAW = (serialization.Encoding.Raw, serialization.PublicFormat.Raw)
_KNOWN = frozenset({"alg", "enc", "epk", "cty", "kid", "x5t#S256", "apu", "apv", "typ"})


class JweInvalid(ValueError):
    """Not an envelope JWE this key can open (any step: form, header, key, tag)."""


def _length_prefixed(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def _content_key(shared: bytes, apu: bytes, apv: bytes) -> bytes:
    """The Concat KDF (NIST SP 800-56A, RFC 7518 §4.6.2) for a 256-bit A256GCM key: one
    SHA-256 round over counter ‖ Z ‖ AlgorithmID ‖ PartyUInfo ‖ PartyVInfo ‖ keydatalen."""
    other = (_length_prefixed(ENC.encode()) + _length_prefixed(apu) + _length_prefixed(apv)
             + struct.pack(">I", 256))  # fmt: skip
    return hashlib.sha256(b"\x00\x00\x00\x01" + shared + other).digest()


def encrypt_compact(
    header: dict[str, Any], plaintext: bytes, recipient: x25519.X25519PublicKey
) -> str:
    """Encrypt to ``recipient`` under ``header`` (alg, enc and epk are set here)."""
    ephemeral = x25519.X25519PrivateKey.generate()
    epk = {"crv": "X25519", "kty": "OKP", "x": b64url(ephemeral.public_key().public_bytes(*_RAW))}
    full = {**header, "alg": ALG, "enc": ENC, "epk": epk}
    protected = b64url(json.dumps(full, separators=(",", ":")).encode())
    key = _content_key(ephemeral.exchange(recipient), b"", b"")
    iv = os.urandom(12)
    sealed = AESGCM(key).encrypt(iv, plaintext, protected.encode("ascii"))
    return f"{protected}..{b64url(iv)}.{b64url(sealed[:-16])}.{b64url(sealed[-16:])}"


def decrypt_compact(token: str, key: x25519.X25519PrivateKey) -> tuple[dict[str, Any], bytes]:
    """The protected header and the plaintext; :class:`JweInvalid` for anything else."""
    try:
        protected, encrypted_key, iv, ciphertext, tag = token.split(".")
        header = json.loads(b64url_decode(protected))
        sender = _ephemeral_key(header, encrypted_key)
        apu, apv = (b64url_decode(header.get(name, "")) for name in ("apu", "apv"))
        content_key = _content_key(key.exchange(sender), apu, apv)
        nonce, tag_bytes = b64url_decode(iv), b64url_decode(tag)
        if len(nonce) != 12 or len(tag_bytes) != 16:
            raise JweInvalid("iv or tag of the wrong size")
        plaintext = AESGCM(content_key).decrypt(
            nonce, b64url_decode(ciphertext) + tag_bytes, protected.encode("ascii")
        )
    except (InvalidTag, ValueError, TypeError, AttributeError, UnicodeEncodeError,
            RecursionError):  # fmt: skip
        raise JweInvalid("envelope could not be decrypted") from None
    return header, plaintext


def _ephemeral_key(header: object, encrypted_key: str) -> x25519.X25519PublicKey:
    """The sender's ephemeral key, from a header of the one accepted shape."""
    if not isinstance(header, dict) or not set(header) <= _KNOWN:
        raise JweInvalid("unknown header parameter (crit and zip are not accepted)")
    if (header.get("alg"), header.get("enc"), encrypted_key) != (ALG, ENC, ""):
        raise JweInvalid("not ECDH-ES with A256GCM")
    epk = header.get("epk")
    if not isinstance(epk, dict) or (epk.get("kty"), epk.get("crv")) != ("OKP", "X25519"):
        raise JweInvalid("the ephemeral key is not an X25519 key")
    raw = b64url_decode(epk.get("x", ""))
    if len(raw) != 32:
        raise JweInvalid("the ephemeral key is not 32 bytes")
    return x25519.X25519PublicKey.from_public_bytes(raw)
