"""A FIDO2 authenticator in software, for the enrolment checks a browser's virtual
authenticator cannot be told to vary: it answers ``navigator.credentials.create`` with
a real ES256 credential and the attestation asked of it — none, self, or a full
``packed`` statement signed by a maker's attestation key whose chain the test builds.
Everything it returns is what a card would send; nothing in the server is bypassed."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

import cbor2
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

__all__ = ["Maker", "SoftCard", "b64url"]

Attestation = Literal["none", "self", "full"]
AAGUID_OID = x509.ObjectIdentifier("1.3.6.1.4.1.45724.1.1.4")


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _name(org: str, unit: str | None, common: str) -> x509.Name:
    parts = [x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
             x509.NameAttribute(NameOID.ORGANIZATION_NAME, org)]  # fmt: skip
    if unit:
        parts.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit))
    return x509.Name([*parts, x509.NameAttribute(NameOID.COMMON_NAME, common)])


@dataclass(frozen=True)
class Maker:
    """A card maker: its attestation root, and an attestation key certified by it for a
    card model (FIDO's packed-attestation certificate profile)."""

    root: x509.Certificate
    root_key: ec.EllipticCurvePrivateKey

    @classmethod
    def create(cls, org: str) -> Maker:
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        name = _name(org, None, f"{org} FIDO Root CA")
        root = (
            x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                         False), critical=True)
            .sign(key, hashes.SHA256())
        )  # fmt: skip
        return cls(root, key)

    def root_pem(self) -> bytes:
        return self.root.public_bytes(Encoding.PEM)

    def attestation_key(
        self, certified_model: uuid.UUID | None
    ) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        org = self.root.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(str(org), "Authenticator Attestation", "Card batch 1"))
            .issuer_name(self.root.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        )  # fmt: skip
        if certified_model is not None:
            value = b"\x04\x10" + certified_model.bytes  # OCTET STRING of the AAGUID
            builder = builder.add_extension(x509.UnrecognizedExtension(AAGUID_OID, value), False)
        return key, builder.sign(self.root_key, hashes.SHA256())


@dataclass
class SoftCard:
    """One authenticator of model ``aaguid``; ``maker``/``certified_model`` say who
    signs its full attestation and which model that certificate names."""

    aaguid: uuid.UUID
    maker: Maker | None = None
    certified_model: uuid.UUID | None = None
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    credential_id: bytes = field(default_factory=lambda: secrets.token_bytes(32))

    def create(
        self, options: dict[str, Any], origin: str, attestation: Attestation
    ) -> dict[str, Any]:
        """The PublicKeyCredential (as JSON) for ``navigator.credentials.create(options)``."""
        public = options["publicKey"]
        client_data = json.dumps({"type": "webauthn.create", "challenge": public["challenge"],
                                  "origin": origin, "crossOrigin": False}).encode()  # fmt: skip
        auth_data = self._auth_data(str(public["rp"]["id"]))
        signed = auth_data + hashlib.sha256(client_data).digest()
        fmt, statement = self._statement(attestation, signed)
        attestation_object = cbor2.dumps({"fmt": fmt, "attStmt": statement, "authData": auth_data})
        return {
            "id": b64url(self.credential_id), "rawId": b64url(self.credential_id),
            "type": "public-key", "authenticatorAttachment": "cross-platform",
            "clientExtensionResults": {},
            "response": {"clientDataJSON": b64url(client_data),
                         "attestationObject": b64url(attestation_object), "transports": ["usb"]},
        }  # fmt: skip

    def _auth_data(self, rp_id: str) -> bytes:
        numbers = self.key.public_key().public_numbers()
        cose = cbor2.dumps({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"),
                            -3: numbers.y.to_bytes(32, "big")})  # fmt: skip
        flags = bytes([0x01 | 0x04 | 0x40])  # user present, verified, credential data
        return (
            hashlib.sha256(rp_id.encode()).digest() + flags + (0).to_bytes(4, "big")
            + self.aaguid.bytes + len(self.credential_id).to_bytes(2, "big")
            + self.credential_id + cose
        )  # fmt: skip

    def _statement(self, attestation: Attestation, signed: bytes) -> tuple[str, dict[str, Any]]:
        if attestation == "none":
            return "none", {}
        if attestation == "self":
            return "packed", {"alg": -7, "sig": self.key.sign(signed, ec.ECDSA(hashes.SHA256()))}
        assert self.maker is not None, "a full attestation needs a maker"
        key, cert = self.maker.attestation_key(self.certified_model)
        sig = key.sign(signed, ec.ECDSA(hashes.SHA256()))
        return "packed", {"alg": -7, "sig": sig, "x5c": [cert.public_bytes(Encoding.DER)]}
