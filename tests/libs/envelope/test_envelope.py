from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jukinet.contracts.principals import AGENCY, Principal
from jukinet.envelope import (
    BadSignature,
    DecryptionFailed,
    EnvelopeError,
    MalformedEnvelope,
    MemoryReplayGuard,
    MessageExpired,
    MessageFromFuture,
    Opener,
    OriginInvalid,
    RecipientDirectory,
    ReplayedMessage,
    Sealer,
    SequenceRegression,
    SignerCertificateExpired,
    SignerNotIssuer,
    UntrustedSigner,
    WrongAudience,
)
from jukinet.pki import CertificateAuthority, Credentials, PkiLayout, TrustStore, utcnow
from tests.principals import CHIYODA, HIRATSUKA, KANAGAWA, TOKYO

TTL = dt.timedelta(minutes=10)
CHANGE = {"kind": "birth", "code": "12345678903", "name": "山田 太郎"}


def creds(layout: PkiLayout, principal: Principal, claimed: Principal | None = None) -> Credentials:
    return Credentials.load(layout.node_dir(principal), layout.ca_cert, claimed or principal)


@pytest.fixture(scope="module")
def directory(layout: PkiLayout, trust: TrustStore) -> RecipientDirectory:
    return RecipientDirectory.from_layout(layout, trust)


@pytest.fixture(scope="module")
def sealer(layout, directory) -> Sealer:
    return Sealer(creds(layout, HIRATSUKA), directory)


def opener_for(layout, trust, principal, **kw) -> Opener:
    return Opener(creds(layout, principal), trust, **kw)


def seal(sealer: Sealer, audience=KANAGAWA, sequence=1, payload=CHANGE, **kw) -> str:
    return sealer.seal(
        audience=audience, type="identity.change", payload=payload, sequence=sequence, ttl=TTL, **kw
    ).token


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_round_trip(layout, trust, sealer):
    token = seal(sealer)
    message = opener_for(layout, trust, KANAGAWA).open(token, MemoryReplayGuard())
    assert message.issuer == HIRATSUKA
    assert message.audience == KANAGAWA
    assert message.payload == CHANGE
    assert message.sequence == 1
    assert message.type == "identity.change"
    assert message.expires_at - message.issued_at == 600


def test_payload_is_not_readable_on_the_wire(sealer):
    token = seal(sealer)
    assert "山田".encode() not in token.encode()
    assert "12345678903" not in token
    for part in token.split(".")[:2]:
        assert b"12345678903" not in _unb64(part)


def test_tampered_ciphertext_is_rejected(layout, trust, sealer):
    parts = seal(sealer).split(".")
    cipher = bytearray(_unb64(parts[3]))
    cipher[10] ^= 0x01
    parts[3] = _b64(bytes(cipher))
    with pytest.raises(DecryptionFailed):
        opener_for(layout, trust, KANAGAWA).open(".".join(parts))


def test_tampered_protected_header_is_rejected(layout, trust, sealer):
    parts = seal(sealer).split(".")
    header = json.loads(_unb64(parts[0]))
    header["kid"] = TOKYO.uri
    parts[0] = _b64(json.dumps(header).encode())
    with pytest.raises(DecryptionFailed):
        opener_for(layout, trust, KANAGAWA).open(".".join(parts))


def test_a_header_nested_too_deep_is_an_envelope_error_not_a_crash(layout, trust, sealer):
    """JSON nested a thousand deep breaks Python's parser with a RecursionError: both the
    envelope's header and the signed message's header are refused as envelope errors, so
    the inbox dead-letters the message instead of retrying it for ever."""
    deep = _b64(b"[" * 1500)
    with pytest.raises(DecryptionFailed):
        opener_for(layout, trust, KANAGAWA).open(
            f"{deep}..AAAAAAAAAAAAAAAA.AA.AAAAAAAAAAAAAAAAAAAAAA"
        )
    token = sealer.encrypt(f"{deep}.e30.AAAA", KANAGAWA)
    with pytest.raises(MalformedEnvelope):
        opener_for(layout, trust, KANAGAWA).open(token)


def test_tampered_signature_is_rejected(layout, trust, sealer):
    _, signed = sealer.sign(audience=KANAGAWA, type="t", payload=CHANGE, sequence=1, ttl=TTL)
    head, body, sig = signed.split(".")
    raw = bytearray(_unb64(sig))
    raw[0] ^= 0x80
    token = sealer.encrypt(f"{head}.{body}.{_b64(bytes(raw))}", KANAGAWA)
    with pytest.raises(BadSignature):
        opener_for(layout, trust, KANAGAWA).open(token)


def test_tampered_signed_payload_is_rejected(layout, trust, sealer):
    _, signed = sealer.sign(audience=KANAGAWA, type="t", payload=CHANGE, sequence=1, ttl=TTL)
    head, body, sig = signed.split(".")
    claims = json.loads(_unb64(body))
    claims["body"]["kind"] = "death"
    token = sealer.encrypt(f"{head}.{_b64(json.dumps(claims).encode())}.{sig}", KANAGAWA)
    with pytest.raises(BadSignature):
        opener_for(layout, trust, KANAGAWA).open(token)


def test_a_message_for_another_node_cannot_be_decrypted(layout, trust, sealer):
    token = seal(sealer, audience=KANAGAWA)
    with pytest.raises(DecryptionFailed):
        opener_for(layout, trust, TOKYO).open(token)


def test_audience_must_be_the_opener(layout, trust, sealer):
    """Encrypted to Tokyo's key but addressed to Kanagawa: Tokyo must not accept it."""
    _, signed = sealer.sign(audience=KANAGAWA, type="t", payload=CHANGE, sequence=1, ttl=TTL)
    with pytest.raises(WrongAudience):
        opener_for(layout, trust, TOKYO).open(sealer.encrypt(signed, TOKYO))


def test_signer_must_be_the_issuer(layout, trust, directory):
    """Chiyoda's own valid signing key, claiming to be Hiratsuka."""
    forger = Sealer(creds(layout, CHIYODA, claimed=HIRATSUKA), directory)
    with pytest.raises(SignerNotIssuer):
        opener_for(layout, trust, KANAGAWA).open(seal(forger))


def test_a_signer_from_another_ca_is_rejected(layout, trust, directory, other_pki):
    other_layout, _ = other_pki
    impostor = Sealer(creds(other_layout, HIRATSUKA), directory)
    with pytest.raises(UntrustedSigner):
        opener_for(layout, trust, KANAGAWA).open(seal(impostor))


def test_an_expired_signer_certificate_is_rejected(tmp_path: Path, ca, layout, trust, directory):
    stale = PkiLayout(tmp_path)
    stale.issue(ca, HIRATSUKA, validity=dt.timedelta(days=1), now=utcnow() - dt.timedelta(days=3))
    old = Sealer(creds(stale, HIRATSUKA), directory)
    with pytest.raises(SignerCertificateExpired):
        opener_for(layout, trust, KANAGAWA).open(seal(old))


def test_a_message_signed_before_its_certificate_expired_still_opens(
    tmp_path: Path, ca, layout, trust, directory
):
    """A backlog signed with a since-expired (or rotated) certificate stays valid while the
    message itself is fresh."""
    old = PkiLayout(tmp_path)
    old.issue(ca, HIRATSUKA, validity=dt.timedelta(days=2), now=utcnow() - dt.timedelta(days=3))
    then = Sealer(creds(old, HIRATSUKA), directory, clock=lambda: utcnow() - dt.timedelta(days=2))
    token = then.seal(
        audience=KANAGAWA, type="t", payload=CHANGE, sequence=1, ttl=dt.timedelta(days=3)
    ).token
    assert opener_for(layout, trust, KANAGAWA).open(token).issuer == HIRATSUKA


def test_claims_out_of_range_are_malformed(layout, trust, sealer):
    opener = opener_for(layout, trust, KANAGAWA)
    for bad in ({"sequence": 0}, {"sequence": 2**63}, {"type": "Bad Type!"}):
        kwargs = {
            "audience": KANAGAWA,
            "type": "t",
            "payload": CHANGE,
            "sequence": 1,
            "ttl": TTL,
        } | bad
        with pytest.raises(MalformedEnvelope):
            opener.open(sealer.seal(**kwargs).token)
    long_lived = sealer.seal(
        audience=KANAGAWA, type="t", payload=CHANGE, sequence=1, ttl=dt.timedelta(days=31)
    )
    with pytest.raises(MalformedEnvelope):
        opener.open(long_lived.token)


def test_an_expired_message_is_rejected(layout, trust, directory):
    past = Sealer(
        creds(layout, HIRATSUKA), directory, clock=lambda: utcnow() - dt.timedelta(hours=1)
    )
    with pytest.raises(MessageExpired):
        opener_for(layout, trust, KANAGAWA).open(seal(past))


def test_a_message_from_the_future_is_rejected(layout, trust, directory):
    future = Sealer(
        creds(layout, HIRATSUKA), directory, clock=lambda: utcnow() + dt.timedelta(minutes=5)
    )
    with pytest.raises(MessageFromFuture):
        opener_for(layout, trust, KANAGAWA).open(seal(future))


def test_small_clock_skew_is_tolerated(layout, trust, directory):
    ahead = Sealer(
        creds(layout, HIRATSUKA), directory, clock=lambda: utcnow() + dt.timedelta(seconds=10)
    )
    assert opener_for(layout, trust, KANAGAWA).open(seal(ahead)).issuer == HIRATSUKA


def test_a_replayed_message_is_rejected(layout, trust, sealer):
    opener, guard = opener_for(layout, trust, KANAGAWA), MemoryReplayGuard()
    token = seal(sealer)
    opener.open(token, guard)
    with pytest.raises(ReplayedMessage):
        opener.open(token, guard)


def test_a_sequence_going_backwards_is_rejected(layout, trust, sealer):
    opener, guard = opener_for(layout, trust, KANAGAWA), MemoryReplayGuard()
    opener.open(seal(sealer, sequence=5), guard)
    opener.open(seal(sealer, sequence=9), guard)  # gaps are the consumer's business
    with pytest.raises(SequenceRegression):
        opener.open(seal(sealer, sequence=7), guard)


def test_checks_run_in_order(layout, trust, directory, other_pki):
    """A message failing several checks reports the earliest: here the foreign CA."""
    other_layout, _ = other_pki
    clock = lambda: utcnow() - dt.timedelta(hours=1)  # noqa: E731
    impostor = Sealer(creds(other_layout, HIRATSUKA), directory, clock=clock)
    with pytest.raises(UntrustedSigner):
        opener_for(layout, trust, KANAGAWA).open(seal(impostor, audience=KANAGAWA))


def test_garbage_is_malformed_or_undecryptable(layout, trust):
    opener = opener_for(layout, trust, KANAGAWA)
    for junk in ("", "a.b.c.d.e", "not a token", "....", "x" * 100):
        with pytest.raises(EnvelopeError):
            opener.open(junk)
    with pytest.raises(MalformedEnvelope):
        opener.open("x" * (8 * 1024 * 1024 + 1))


@pytest.fixture(scope="module")
def forwarded(layout, trust, sealer, directory):
    kanagawa = opener_for(layout, trust, KANAGAWA)
    inner = kanagawa.open(seal(sealer))
    prefecture = Sealer(creds(layout, KANAGAWA), directory)
    return inner, prefecture


def test_forwarded_message_verifies_origin_at_the_agency(layout, trust, forwarded):
    inner, prefecture = forwarded
    outer_token = prefecture.forward(inner, audience=AGENCY, sequence=1, ttl=TTL).token
    agency = opener_for(layout, trust, AGENCY)
    outer = agency.open(outer_token)
    assert outer.issuer == KANAGAWA
    assert outer.is_forward
    origin = agency.origin(outer)
    assert origin.issuer == HIRATSUKA
    assert origin.audience == KANAGAWA
    assert origin.payload == CHANGE
    assert origin.message_id == inner.message_id


def test_a_prefecture_cannot_alter_forwarded_content(layout, trust, forwarded):
    inner, prefecture = forwarded
    head, body, sig = inner.token.split(".")
    claims = json.loads(_unb64(body))
    claims["body"]["name"] = "別人"
    altered = f"{head}.{_b64(json.dumps(claims, ensure_ascii=False).encode())}.{sig}"
    token = prefecture.seal(
        audience=AGENCY, type="jukinet.forward", payload={"origin": altered}, sequence=2, ttl=TTL
    ).token
    agency = opener_for(layout, trust, AGENCY)
    with pytest.raises(OriginInvalid, match="bad_signature"):
        agency.origin(agency.open(token))


def test_a_prefecture_cannot_invent_a_municipal_origin(layout, trust, directory, forwarded):
    _, prefecture = forwarded
    forger = Sealer(creds(layout, KANAGAWA, claimed=HIRATSUKA), directory)
    _, invented = forger.sign(audience=KANAGAWA, type="t", payload=CHANGE, sequence=1, ttl=TTL)
    token = prefecture.seal(
        audience=AGENCY, type="jukinet.forward", payload={"origin": invented}, sequence=3, ttl=TTL
    ).token
    agency = opener_for(layout, trust, AGENCY)
    with pytest.raises(OriginInvalid, match="signer_not_issuer"):
        agency.origin(agency.open(token))


def test_only_what_was_sent_to_the_forwarder_can_be_forwarded(layout, trust, directory, forwarded):
    inner, _ = forwarded  # addressed to Kanagawa
    tokyo = Sealer(creds(layout, TOKYO), directory)
    token = tokyo.forward(inner, audience=AGENCY, sequence=1, ttl=TTL).token
    agency = opener_for(layout, trust, AGENCY)
    with pytest.raises(OriginInvalid):
        agency.origin(agency.open(token))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(payload=st.dictionaries(st.text(max_size=10), json_values, max_size=5))
def test_any_json_payload_round_trips(layout, trust, sealer, payload):
    message = opener_for(layout, trust, KANAGAWA).open(seal(sealer, payload=payload))
    assert message.payload == payload


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(position=st.integers(0, 10_000), flip=st.integers(1, 255))
def test_any_corruption_is_an_envelope_error(layout, trust, sealer, position, flip):
    token = bytearray(seal(sealer).encode())
    index = position % len(token)
    token[index] = (token[index] ^ flip) & 0x7F or 0x41
    try:
        opener_for(layout, trust, KANAGAWA).open(bytes(token).decode("ascii"))
    except EnvelopeError:
        return
    # a flip that base64 decoding ignores (padding bits) may still open: it must be intact
    assert opener_for(layout, trust, KANAGAWA).open(bytes(token).decode()).payload == CHANGE


def test_directory_refuses_a_recipient_certificate_naming_another_node(tmp_path, layout, trust):
    from jukinet.pki import Purpose, read_certificate

    swapped = RecipientDirectory(trust, lambda p: layout.public_cert(TOKYO, Purpose.KEX))
    with pytest.raises(Exception, match="names"):
        swapped.kex_certificate(KANAGAWA)
    assert read_certificate(layout.public_cert(TOKYO, Purpose.KEX))


def test_ca_fixture_is_backdated(ca: CertificateAuthority):
    assert ca.certificate.not_valid_before_utc < utcnow() - dt.timedelta(days=20)
