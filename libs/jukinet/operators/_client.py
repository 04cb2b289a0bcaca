"""The operator's side of a login: the IC card signs the office's challenge."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from jukinet.contracts.principals import Principal
from jukinet.operators._auth import challenge_message
from jukinet.pki import read_certificate, read_private_key

__all__ = ["IcCard", "card_login"]


class IcCard:
    """An operator's card as files: ``sign.key`` (never leaves the operator) and
    ``sign.crt``."""

    def __init__(self, directory: Path) -> None:
        key = read_private_key(directory / "sign.key")
        if not isinstance(key, ed25519.Ed25519PrivateKey):
            raise ValueError("an IC card holds an Ed25519 signing key")
        self._key = key
        self.certificate_pem = (
            read_certificate(directory / "sign.crt")
            .public_bytes(serialization.Encoding.PEM)
            .decode()
        )

    def sign(self, message: bytes) -> str:
        return base64.b64encode(self._key.sign(message)).decode()


async def card_login(
    client: httpx.AsyncClient, node: Principal, operator: str, password: str, card: IcCard
) -> httpx.Response:
    """Fetch a challenge, have the card sign it, log in; the caller reads the response."""
    challenge = (await client.post("/auth/challenge")).raise_for_status().json()
    message = challenge_message(node, challenge["challenge_id"], challenge["challenge"])
    body = {
        "operator": operator,
        "password": password,
        "challenge_id": challenge["challenge_id"],
        "signature": card.sign(message),
        "card_certificate": card.certificate_pem,
    }
    return await client.post("/auth/login", json=body)
