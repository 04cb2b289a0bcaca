"""Renewal: reissue the credentials that expire soon, before they do."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

from jukinet.contracts.federation import BROKER_NAMES
from jukinet.contracts.principals import Principal, PrincipalKind
from jukinet.pki._authority import CertificateAuthority
from jukinet.pki._credentials import HTTPS_CERT, PkiLayout
from jukinet.pki._files import read_certificate
from jukinet.pki._verify import principal_of

__all__ = ["BROKER", "credentials_expiry", "renew_expiring"]

BROKER = "the broker"


def credentials_expiry(layout: PkiLayout) -> list[tuple[Principal, dt.datetime]]:
    """Each principal with credentials under ``nodes/`` and the earliest expiry among its
    certificates (the broker's own directory is not a principal's)."""
    found = []
    for node in sorted((layout.root / "nodes").glob("*")):
        certs = [c for c in sorted(node.glob("*.crt")) if c.name != HTTPS_CERT]
        if not certs or node == layout.broker_dir:
            continue
        principal = principal_of(read_certificate(certs[0]))
        expiry = min(read_certificate(c).not_valid_after_utc for c in sorted(node.glob("*.crt")))
        found.append((principal, expiry))
    return found


def renew_expiring(
    layout: PkiLayout,
    ca: CertificateAuthority,
    *,
    horizon: dt.datetime,
    validity: dt.timedelta,
    hosts: Callable[[Principal], Sequence[str]],
) -> list[str]:
    """Reissue every node's, client's and the broker's credentials that expire before
    ``horizon``; what was renewed, by URI (the broker as :data:`BROKER`). Old certificates
    are not revoked: they stay valid until they expire, and running nodes roll over to the
    new files by themselves. Operators' IC cards are left alone (a card is replaced with
    `jukinet operators card`)."""
    renewed = []
    for principal, expiry in credentials_expiry(layout):
        if principal.kind is not PrincipalKind.OPERATOR and expiry < horizon:
            layout.issue(ca, principal, validity=validity, hosts=hosts(principal))
            renewed.append(principal.uri)
    broker_cert = layout.broker_dir / "tls.crt"
    if broker_cert.exists() and read_certificate(broker_cert).not_valid_after_utc < horizon:
        layout.issue_broker(ca, dns_names=BROKER_NAMES, validity=validity)
        renewed.append(BROKER)
    return renewed
