"""The envelope's hand-made compact JWE (ECDH-ES over X25519, A256GCM) opens what joserfc
(the reference JOSE library) seals and the other way round, and refuses another key, any
changed byte, another algorithm, an extension it does not know, a wrapped key and an
ephemeral key of low order."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric import x25519
from joserfc import jwe
from joserfc.jwk import OKPKey

from jukinet.envelope._jwe import JweInvalid, decrypt_compact, encrypt_compact
from jukinet.envelope._jws import b64url, b64url_decode
from jukinet.envelope._registry import JWE_REGISTRY

HEADER = {"cty": "jukinet-msg+jws", "kid": "spiffe://jukinet/prefecture/140007"}
SECRET = "山田 太郎 1980-04-01".encode()


def test_joserfc_opens_ours_and_we_open_joserfcs() -> None:
    key = x25519.X25519PrivateKey.generate()
    ours = encrypt_compact(HEADER, SECRET, key.public_key())
    opened = jwe.decrypt_compact(ours, OKPKey.import_key(key), registry=JWE_REGISTRY)
    assert (opened.plaintext, opened.protected["kid"]) == (SECRET, HEADER["kid"])
    for apu in (None, "QWxpY2U"):  # with and without PartyUInfo, which the KDF must bind
        header = {**HEADER, "alg": "ECDH-ES", "enc": "A256GCM"} | ({"apu": apu} if apu else {})
        theirs = jwe.encrypt_compact(header, SECRET, OKPKey.import_key(key.public_key()),
                                     registry=JWE_REGISTRY)  # fmt: skip
        assert decrypt_compact(theirs, key) == (json.loads(_header_json(theirs)), SECRET)


def _header_json(token: str) -> bytes:
    return b64url_decode(token.split(".")[0])


def _forged_header(token: str, **changed: object) -> str:
    header = json.loads(_header_json(token)) | changed
    return ".".join([b64url(json.dumps(header).encode()), *token.split(".")[1:]])


def test_what_an_opener_refuses() -> None:
    key = x25519.X25519PrivateKey.generate()
    token = encrypt_compact(HEADER, SECRET, key.public_key())
    protected, wrapped, iv, ciphertext, tag = token.split(".")
    zero = {"kty": "OKP", "crv": "X25519", "x": b64url(bytes(32))}
    refused = [
        encrypt_compact(HEADER, SECRET, x25519.X25519PrivateKey.generate().public_key()),
        f"{protected}.{wrapped}.{iv}.{ciphertext[:-1]}{'A' if ciphertext[-1] != 'A' else 'B'}.{tag}",
        _forged_header(token, kid="spiffe://jukinet/agency/jlis"),  # bound by the tag
        _forged_header(token, alg="ECDH-ES+A256KW"),
        _forged_header(token, enc="A128GCM"),
        _forged_header(token, zip="DEF"),
        _forged_header(token, crit=["exp"]),
        _forged_header(token, epk=zero),  # low order: no shared secret
        f"{protected}.AAAA.{iv}.{ciphertext}.{tag}",
        f"{protected}.{wrapped}.{iv}.{ciphertext}",
        "not a token at all",
        f"{b64url(b'[' * 1500)}..AAAAAAAAAAAAAAAA.AA.AAAAAAAAAAAAAAAAAAAAAA",  # JSON too deep
    ]
    for forged in refused:
        with pytest.raises(JweInvalid):
            decrypt_compact(forged, key)
