"""A resident's My Number card as the online move-out uses it: an Ed25519 signing key the
resident alone holds (``card.key``, never sent anywhere), whose public half the town
registered when it handed the card over. It signs an online move-out as a compact JWS;
the town verifies it with :func:`verify_move_out`."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import re
import secrets
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from joserfc import jws
from joserfc.jwk import OKPKey
from pydantic import ValidationError

from jukinet.contracts.moveout import CARD_KEY_PATTERN, ONLINE_MOVE_OUT_TYP, OnlineMoveOut

__all__ = ["BadCardSignature", "ResidentCard", "claimed_card", "verify_move_out"]

_CARD_KEY = re.compile(CARD_KEY_PATTERN)
_ALGORITHMS = ["Ed25519"]  # RFC 9864: the fully specified name (EdDSA is deprecated)


class BadCardSignature(ValueError):
    """The request is not a move-out signed by the named card (or not one at all)."""


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class ResidentCard:
    """The card's key, kept in a file only its holder can read."""

    def __init__(self, key: ed25519.Ed25519PrivateKey) -> None:
        self._key = key

    @classmethod
    def create(cls, path: Path) -> ResidentCard:
        key = ed25519.Ed25519PrivateKey.generate()
        raw = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())  # fmt: skip
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(raw)
        return cls(key)

    @classmethod
    def load(cls, path: Path) -> ResidentCard:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, ed25519.Ed25519PrivateKey):
            raise ValueError("a resident card holds an Ed25519 key")
        return cls(key)

    @property
    def public_key(self) -> str:
        """What the town registers at the counter: the raw public key, base64url."""
        raw = self._key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return _b64(raw)

    def move_out(
        self,
        *,
        town: str,
        resident_code: str,
        planned_on: dt.date,
        destination_municipality: str,
        destination_address: str,
        visit_on: dt.date,
        now: dt.datetime | None = None,
    ) -> str:
        """The signed filing (compact JWS), fresh: its own nonce and signing time."""
        filing = OnlineMoveOut(
            town=town, resident_code=resident_code, planned_on=planned_on,
            destination_municipality=destination_municipality,
            destination_address=destination_address, visit_on=visit_on,
            nonce=secrets.token_hex(16), signed_at=now or dt.datetime.now(dt.UTC),
        )  # fmt: skip
        return self.sign(filing.model_dump_json().encode())

    def sign(self, payload: bytes) -> str:
        """A compact JWS of ``payload``, naming the card by its public key (``kid``)."""
        header = {"alg": "Ed25519", "typ": ONLINE_MOVE_OUT_TYP, "kid": self.public_key}
        return jws.serialize_compact(header, payload, OKPKey.import_key(self._key), _ALGORITHMS)


def claimed_card(token: str) -> str:
    """The card the filing names (its ``kid``), read before anything is verified."""
    try:
        header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    except (ValueError, IndexError, RecursionError):
        raise BadCardSignature("not a compact JWS") from None
    kid = header.get("kid") if isinstance(header, dict) else None
    if not isinstance(kid, str) or header.get("typ") != ONLINE_MOVE_OUT_TYP:
        raise BadCardSignature("not an online move-out")
    if not _CARD_KEY.fullmatch(kid):
        raise BadCardSignature("the card is not named by its key")
    return kid


def verify_move_out(token: str, public_key: str) -> OnlineMoveOut:
    """The filing, if the card with ``public_key`` signed it; else :class:`BadCardSignature`."""
    try:
        raw = base64.urlsafe_b64decode(public_key + "=")
        key = OKPKey.import_key(ed25519.Ed25519PublicKey.from_public_bytes(raw))
        payload = jws.deserialize_compact(token, key, algorithms=_ALGORITHMS).payload
    except Exception:
        raise BadCardSignature("the card did not sign this filing") from None
    try:
        return OnlineMoveOut.model_validate_json(payload)
    except ValidationError:
        raise BadCardSignature("the signed filing is not an online move-out") from None
