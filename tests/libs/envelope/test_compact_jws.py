"""The envelope's hand-made compact JWS reads and writes what joserfc (the reference JOSE
library) does, and refuses what a verifier must: another key, a changed byte anywhere,
another algorithm, a critical extension, non-canonical base64url."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from joserfc import jws
from joserfc.jwk import OKPKey

from jukinet.envelope._jws import (
    CompactSigner,
    SignatureInvalid,
    b64url,
    read_header,
    verify_compact,
)
from jukinet.envelope._registry import JWS_REGISTRY

HEADER = {"alg": "Ed25519", "typ": "jukinet-msg+jws", "x5c": ["MIIB"]}
PAYLOAD = json.dumps({"body": {"items": ["山田 太郎"]}}, ensure_ascii=False).encode()


def _keys() -> tuple[ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey]:
    key = ed25519.Ed25519PrivateKey.generate()
    return key, key.public_key()


def test_joserfc_reads_ours_and_we_read_joserfcs() -> None:
    key, public = _keys()
    ours = CompactSigner(key, HEADER).sign(PAYLOAD)
    assert jws.deserialize_compact(ours, OKPKey.import_key(public), registry=JWS_REGISTRY
                                   ).payload == PAYLOAD  # fmt: skip
    theirs = jws.serialize_compact(HEADER, PAYLOAD, OKPKey.import_key(key), registry=JWS_REGISTRY)
    assert verify_compact(theirs, read_header(theirs), public) == PAYLOAD


def _other_first(segment: str) -> str:
    """The segment with its first character changed (a byte of what it encodes changes)."""
    return ("B" if segment[0] == "A" else "A") + segment[1:]


def test_what_a_verifier_refuses() -> None:
    key, public = _keys()
    token = CompactSigner(key, HEADER).sign(PAYLOAD)
    _, other = _keys()
    with pytest.raises(SignatureInvalid):
        verify_compact(token, read_header(token), other)
    head, payload, signature = token.split(".")
    for forged in (f"{head}.{_other_first(payload)}.{signature}",
                   f"{head}.{payload}.{_other_first(signature)}",
                   f"{head}.{payload}.{signature}=", f"{head}.{payload}", token + ".x"):  # fmt: skip
        with pytest.raises(SignatureInvalid):
            verify_compact(forged, read_header(forged), public)
    for header in ({**HEADER, "alg": "EdDSA"}, {**HEADER, "crit": ["exp"]}, {"typ": "x"}):
        forged = f"{b64url(json.dumps(header).encode())}.{payload}.{signature}"
        with pytest.raises(SignatureInvalid):
            verify_compact(forged, read_header(forged), public)
    with pytest.raises(ValueError, match="signs with Ed25519"):
        CompactSigner(key, {**HEADER, "alg": "EdDSA"})
    with pytest.raises(ValueError, match="base64url"):
        read_header("e30=.x.y")  # padding is not base64url
    with pytest.raises(ValueError, match="too deep"):
        read_header(f"{b64url(b'[' * 1500)}.e30.AAAA")
    last = signature[-1]
    twin = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    stray = twin[twin.index(last) ^ 1]  # the same 4 leading bits, one stray trailing bit
    with pytest.raises(SignatureInvalid):  # one token, one reading
        verify_compact(f"{head}.{payload}.{signature[:-1]}{stray}", read_header(token), public)
