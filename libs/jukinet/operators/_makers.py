"""Which authenticators count as the office's IC cards: those whose maker attests them.

Every FIDO2 authenticator can sign a login, a software passkey on the workstation
included. An office that issues its operators hardware cards names the cards' makers:
their attestation roots (a PEM bundle, from the vendor) and, optionally, the card
models (AAGUIDs) it issues. Enrolment then asks the authenticator for its attestation
(``attestation: direct``) and registers it only if

- the statement is a full one (``packed`` or ``fido-u2f``) carrying a certificate
  chain — neither ``none`` nor self attestation, which any software can produce;
- the chain ends at one of the makers' roots and the statement's signature over the
  new credential verifies (py_webauthn);
- the attestation certificate, where it names the model (FIDO's id-fido-gen-ce-aaguid
  extension), names the model the authenticator claims;
- that model is on the list, when a list is given.

Without makers configured (a local federation) any authenticator is accepted, as the
README says for the demo's virtual card.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from webauthn.helpers import parse_attestation_object
from webauthn.helpers.structs import AttestationFormat
from webauthn.registration.verify_registration_response import VerifiedRegistration

__all__ = ["CardMakers", "CardMakersError"]

FULL_ATTESTATION = (AttestationFormat.PACKED, AttestationFormat.FIDO_U2F)
# FIDO Metadata: id-fido-gen-ce-aaguid, the model an attestation certificate speaks for
AAGUID_EXTENSION = x509.ObjectIdentifier("1.3.6.1.4.1.45724.1.1.4")


class CardMakersError(ValueError):
    """The makers' roots or models could not be read (a configuration mistake)."""


@dataclass(frozen=True)
class CardMakers:
    roots: tuple[bytes, ...]  # PEM, one certificate each
    models: frozenset[str]  # AAGUIDs, lower-case with hyphens; empty: any model

    @classmethod
    def load(cls, path: Path, models: Iterable[str] = ()) -> CardMakers:
        """The roots in a PEM bundle, and the models allowed."""
        try:
            certs = x509.load_pem_x509_certificates(path.read_bytes())
        except (OSError, ValueError) as exc:
            raise CardMakersError(f"card makers' roots: cannot read {path}") from exc
        try:
            allowed = frozenset(str(uuid.UUID(m.strip())) for m in models if m.strip())
        except ValueError as exc:
            raise CardMakersError("card models are AAGUIDs (UUIDs)") from exc
        return cls(tuple(c.public_bytes(Encoding.PEM) for c in certs), allowed)

    def by_format(self) -> dict[AttestationFormat, list[bytes]]:
        """What py_webauthn checks the chains of full attestations against."""
        return {fmt: list(self.roots) for fmt in FULL_ATTESTATION}

    def refusal(self, verified: VerifiedRegistration) -> str | None:
        """Why this verified registration is not one of the makers' cards, or None. The
        chain itself was already checked against ``by_format()``'s roots."""
        if verified.fmt not in FULL_ATTESTATION:
            return "card_not_attested"
        try:
            statement = parse_attestation_object(verified.attestation_object).att_stmt
            certified = _certified_model(statement.x5c[0]) if statement.x5c else None
        except (ValueError, TypeError, KeyError, IndexError):  # not a card's statement
            return "card_not_attested"
        if not statement.x5c:  # self attestation: the credential vouching for itself
            return "card_not_attested"
        if certified not in (None, verified.aaguid):
            return "card_model_mismatch"
        if self.models and verified.aaguid not in self.models:
            return "card_model_not_issued"
        return None


def _certified_model(der: bytes) -> str | None:
    """The AAGUID an attestation certificate names, if it names one."""
    cert = x509.load_der_x509_certificate(der)
    try:
        value = cert.extensions.get_extension_for_oid(AAGUID_EXTENSION).value
    except x509.ExtensionNotFound:
        return None
    raw = value.value if isinstance(value, x509.UnrecognizedExtension) else b""
    # an OCTET STRING of 16 bytes: 0x04 0x10 then the AAGUID
    if len(raw) != 18 or raw[:2] != b"\x04\x10":
        return "malformed"
    return str(uuid.UUID(bytes=raw[2:]))
