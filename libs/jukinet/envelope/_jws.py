"""The envelope's compact JWS (RFC 7515) with Ed25519 (alg ``Ed25519``, RFC 9864), made
and checked directly with ``cryptography``: the envelope signs one fixed header shape,
and joserfc's general machinery (header objects, registries, key wrappers) cost about as
much CPU as the signature itself on every message (``make bench``: envelope seal+open).
joserfc stays the reference: the tests check that each reads the other's tokens."""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519

__all__ = [
    "ALG",
    "CompactSigner",
    "SignatureInvalid",
    "b64url",
    "b64url_decode",
    "read_header",
    "verify_compact",
]

ALG = "Ed25519"
MAX_HEADER_BYTES = 4096  # a header carries the signer's certificate (x5c), no more
_SEGMENT = re.compile(r"[A-Za-z0-9_-]*")


class SignatureInvalid(ValueError):
    """The token is not a compact JWS the key signed with the envelope's algorithm."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(segment: str) -> bytes:
    """Strict base64url without padding: any other character is refused, so one token
    has one reading."""
    if not _SEGMENT.fullmatch(segment) or len(segment) % 4 == 1:
        raise ValueError("not base64url")
    try:
        data = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except binascii.Error:
        raise ValueError("not base64url") from None
    tail = len(data) % 3  # bytes in the last, partial quantum
    if tail and b64url(data[-tail:]) != segment[-tail - 1 :]:
        raise ValueError("not canonical base64url")  # stray bits in the last character
    return data


class CompactSigner:
    """Signs payloads under one protected header, encoded once."""

    def __init__(self, key: ed25519.Ed25519PrivateKey, header: dict[str, Any]) -> None:
        if header.get("alg") != ALG:
            raise ValueError("the envelope signs with Ed25519")
        self._key = key
        encoded = json.dumps(header, separators=(",", ":")).encode()
        self._prefix = b64url(encoded) + "."

    def sign(self, payload: bytes) -> str:
        signing_input = self._prefix + b64url(payload)
        signature = self._key.sign(signing_input.encode("ascii"))
        return f"{signing_input}.{b64url(signature)}"


def read_header(token: str) -> dict[str, Any]:
    """The protected header, before anything is verified (it names the signer)."""
    segment = token.split(".", 1)[0]
    if len(segment) > MAX_HEADER_BYTES * 4 // 3 + 4:
        raise ValueError("header too long")
    try:
        header = json.loads(b64url_decode(segment))
    except RecursionError:  # a header nested a thousand deep
        raise ValueError("header nested too deep") from None
    if not isinstance(header, dict):
        raise ValueError("header is not an object")
    return header


def verify_compact(token: str, header: dict[str, Any], key: ed25519.Ed25519PublicKey) -> bytes:
    """The payload of ``token`` if ``key`` signed it under ``header`` (as
    :func:`read_header` read it) with the envelope's algorithm; else
    :class:`SignatureInvalid`. A header with ``crit`` is refused: the envelope
    understands no extension (RFC 7515 §4.1.11)."""
    parts = token.split(".")
    if len(parts) != 3 or header.get("alg") != ALG or "crit" in header:
        raise SignatureInvalid("not an Ed25519 compact JWS")
    protected, payload, signature = parts
    try:
        key.verify(b64url_decode(signature), f"{protected}.{payload}".encode("ascii"))
        return b64url_decode(payload)
    except (InvalidSignature, ValueError, UnicodeEncodeError):
        raise SignatureInvalid("signature does not verify") from None
