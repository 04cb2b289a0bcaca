"""Revocation and expiry are judged at the moment the broker stored a message, which the
sender cannot choose — never at the signing time it claims; forwarded originals are held
to the same rule (at their own storage time, attested by the forwarder) and to their own
expiry. An authentic message refused for time carries itself in the error."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from jukinet.contracts.principals import AGENCY, Principal
from jukinet.envelope import (
    BadSignature,
    MessageExpired,
    Opener,
    OriginInvalid,
    RecipientDirectory,
    Sealer,
    SignerRevoked,
    forward_item,
)
from jukinet.pki import (
    CertificateAuthority,
    Credentials,
    PkiLayout,
    RevocationList,
    TrustStore,
    read_certificate,
    revoke,
    utcnow,
)
from tests.principals import HIRATSUKA, KANAGAWA

CHANGE = {"kind": "birth"}
NOW = utcnow()
REVOKED_AT = NOW - dt.timedelta(minutes=1)


@pytest.fixture
def revoked(tmp_path: Path, ca: CertificateAuthority) -> tuple[PkiLayout, TrustStore]:
    """Hiratsuka credentials whose signing certificate was revoked a minute ago, and a
    trust store that knows it."""
    old = PkiLayout(tmp_path / "old")
    old.issue(ca, HIRATSUKA, validity=dt.timedelta(days=1), now=NOW - dt.timedelta(hours=1))
    revocations = tmp_path / "revoked.json"
    revoke(revocations, [read_certificate(old.node_dir(HIRATSUKA) / "sign.crt")], REVOKED_AT)
    return old, TrustStore(ca.certificate, RevocationList(revocations))


def sealer_at(keys: PkiLayout, layout: PkiLayout, trust: TrustStore, at: dt.datetime) -> Sealer:
    creds = Credentials.load(keys.node_dir(HIRATSUKA), layout.ca_cert, HIRATSUKA)
    return Sealer(creds, RecipientDirectory.from_layout(layout, trust), clock=lambda: at)


def opener(layout: PkiLayout, trust: TrustStore, who: Principal) -> Opener:
    return Opener(Credentials.load(layout.node_dir(who), layout.ca_cert, who), trust)


def token(s: Sealer, ttl: dt.timedelta = dt.timedelta(minutes=10)) -> str:
    return s.seal(audience=KANAGAWA, type="t", payload=CHANGE, sequence=1, ttl=ttl).token


def test_a_revoked_key_cannot_sign_by_backdating(layout, revoked) -> None:
    keys, trust = revoked
    backdated = token(sealer_at(keys, layout, trust, REVOKED_AT - dt.timedelta(minutes=1)))
    kanagawa = opener(layout, trust, KANAGAWA)
    with pytest.raises(SignerRevoked) as refused:
        kanagawa.open(backdated, stored_at=NOW)
    assert refused.value.verified is not None  # authentic: it takes its place in the channel
    assert refused.value.verified.sequence == 1
    with pytest.raises(SignerRevoked):
        kanagawa.open(backdated)  # no storage time: judged now, not at the claimed iat


def test_what_the_broker_stored_before_the_revocation_still_opens(layout, revoked) -> None:
    keys, trust = revoked
    before = REVOKED_AT - dt.timedelta(minutes=1)
    sent = token(sealer_at(keys, layout, trust, before))
    message = opener(layout, trust, KANAGAWA).open(sent, stored_at=before)
    assert message.stored_at == before


def test_expiry_is_judged_when_the_message_was_stored(layout, trust) -> None:
    """A receiver that was down longer than the lifetime still takes what was stored in
    time; what was stored expired is refused, as an authentic message."""
    keys = layout
    signed_at = NOW - dt.timedelta(hours=2)
    sent = token(sealer_at(keys, layout, trust, signed_at), ttl=dt.timedelta(minutes=10))
    kanagawa = opener(layout, trust, KANAGAWA)
    assert kanagawa.open(sent, stored_at=signed_at + dt.timedelta(minutes=1)).sequence == 1
    with pytest.raises(MessageExpired) as refused:
        kanagawa.open(sent, stored_at=signed_at + dt.timedelta(minutes=20))
    assert refused.value.verified is not None


def signed(s: Sealer, ttl: dt.timedelta = dt.timedelta(minutes=10)) -> str:
    """A signed, not encrypted, message to Kanagawa: what a forward carries."""
    return s.sign(audience=KANAGAWA, type="t", payload=CHANGE, sequence=1, ttl=ttl)[1]


def test_a_forged_message_carries_nothing(layout, trust) -> None:
    s = sealer_at(layout, layout, trust, NOW)
    head, body, sig = signed(s).split(".")
    forged = ".".join([head, body, ("A" if sig[0] != "A" else "B") + sig[1:]])
    with pytest.raises(BadSignature) as refused:
        opener(layout, trust, KANAGAWA).open(s.encrypt(forged, KANAGAWA), stored_at=NOW)
    assert refused.value.verified is None


def forward(
    layout: PkiLayout, trust: TrustStore, origin_token: str, stored_at: dt.datetime
) -> tuple[Opener, str]:
    """Kanagawa opens the origin as stored at ``stored_at`` and forwards it to the agency."""
    inner = opener(layout, trust, KANAGAWA).open(origin_token, stored_at=stored_at)
    kanagawa = Sealer(
        Credentials.load(layout.node_dir(KANAGAWA), layout.ca_cert, KANAGAWA),
        RecipientDirectory.from_layout(layout, trust),
        clock=lambda: NOW,  # the test's own "now", however long after import it runs
    )
    outer = kanagawa.seal(
        audience=AGENCY, type="jukinet.forward", payload=forward_item(inner), sequence=1,
        ttl=dt.timedelta(minutes=10),
    )  # fmt: skip
    return opener(layout, trust, AGENCY), outer.token


def test_a_forwarded_original_is_judged_when_it_was_stored(layout, revoked) -> None:
    keys, trust = revoked
    before = REVOKED_AT - dt.timedelta(minutes=1)
    origin_token = token(sealer_at(keys, layout, trust, before))
    agency, outer = forward(layout, trust, origin_token, stored_at=before)
    # stored at the prefecture before the revocation, forwarded afterwards: still valid
    assert agency.origin(agency.open(outer, stored_at=NOW)).issuer == HIRATSUKA


def test_a_forwarded_original_is_held_to_revocation_and_its_own_expiry(layout, revoked) -> None:
    keys, trust = revoked
    agency = opener(layout, trust, AGENCY)
    backdated = signed(sealer_at(keys, layout, trust, REVOKED_AT - dt.timedelta(minutes=1)))
    ms = int(NOW.timestamp() * 1000)
    # the origin, backdated by its revoked key, was stored after the revocation: refused
    with pytest.raises(OriginInvalid, match="signer_revoked"):
        agency.verify_origin(backdated, forwarder=KANAGAWA, stored_at=ms, forwarded_at=NOW)
    # no attested storage time: judged when the forward itself was stored
    with pytest.raises(OriginInvalid, match="signer_revoked"):
        agency.verify_origin(backdated, forwarder=KANAGAWA, forwarded_at=NOW)
    # an origin already expired when its forwarder's broker stored it
    signed_at = NOW - dt.timedelta(hours=2)
    short = signed(sealer_at(layout, layout, trust, signed_at))
    late = int((signed_at + dt.timedelta(minutes=30)).timestamp() * 1000)
    with pytest.raises(OriginInvalid, match="message_expired"):
        agency.verify_origin(short, forwarder=KANAGAWA, stored_at=late, forwarded_at=NOW)
    in_time = int((signed_at + dt.timedelta(minutes=1)).timestamp() * 1000)
    origin = agency.verify_origin(short, forwarder=KANAGAWA, stored_at=in_time, forwarded_at=NOW)
    assert origin.issuer == HIRATSUKA
    # a forwarder cannot claim the origin was stored after its own forward was
    future = int((NOW + dt.timedelta(hours=1)).timestamp() * 1000)
    with pytest.raises(OriginInvalid, match="malformed"):
        agency.verify_origin(short, forwarder=KANAGAWA, stored_at=future, forwarded_at=NOW)
