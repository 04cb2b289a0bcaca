"""The keys `jukinet audit verify` checks a node's logs with.

Only certificates that chain to the federation CA, are signing certificates and name the
node count as the node's keys; a file planted in the node's archive (self-signed, from
another CA, or naming another principal under the node's file name) is ignored and
reported. Other nodes' certified signing keys are kept apart, only to say whose key
signed a log checked under the wrong ``--node``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ed25519

from jukinet.contracts.chains import KeyRing
from jukinet.contracts.principals import Principal
from jukinet.pki import PkiError, PkiLayout, Purpose, TrustStore, read_certificate

__all__ = ["CertifiedKeys", "certified_keys"]


@dataclass(frozen=True)
class CertifiedKeys:
    ring: KeyRing
    ignored: list[str]  # file names that failed a check (never their contents)


def certified_keys(layout: PkiLayout, trust: TrustStore, node: Principal) -> CertifiedKeys:
    """Every signing key the node has had, each certified by the federation CA for the
    node; other principals' certified signing keys as ``others``."""
    own: list[ed25519.Ed25519PublicKey] = []
    others: dict[str, list[ed25519.Ed25519PublicKey]] = {}
    ignored: list[str] = []
    for path in _signing_certificates(layout):
        checked = _certified(path, trust)
        if checked is None:
            ignored.append(path.name)
            continue
        principal, key = checked
        if principal == node:
            own.append(key)
        else:
            others.setdefault(principal.uri, []).append(key)
    return CertifiedKeys(KeyRing(own, dict(others)), ignored)


def _signing_certificates(layout: PkiLayout) -> Iterator[Path]:
    sign = Purpose.SIGN.value
    yield from sorted(layout.directory.glob(f"*.{sign}.crt"))
    yield from sorted((layout.directory / "archive").glob(f"*.{sign}.*.crt"))


def _certified(path: Path, trust: TrustStore) -> tuple[Principal, ed25519.Ed25519PublicKey] | None:
    """The principal and key of a signing certificate issued by the federation CA (judged
    within its own validity: archived certificates have expired since), or None."""
    try:
        cert = read_certificate(path)
        at = max(cert.not_valid_before_utc, trust.ca.not_valid_before_utc)
        principal = trust.verify(cert, purpose=Purpose.SIGN, at=at + dt.timedelta(seconds=1))
    except (PkiError, ValueError, x509.InvalidVersion):
        return None
    key = cert.public_key()
    if not isinstance(key, ed25519.Ed25519PublicKey):
        return None
    return principal, key
