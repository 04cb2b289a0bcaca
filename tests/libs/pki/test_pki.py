from __future__ import annotations

import datetime as dt
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from jukinet.contracts.principals import AGENCY, InvalidPrincipal, Principal, PrincipalKind
from jukinet.pki import (
    HTTPS_CERT,
    CertificateAuthority,
    CertificateExpired,
    CertificateRevoked,
    Credentials,
    IdentityMismatch,
    PkiLayout,
    PresentedCertificates,
    Purpose,
    RevocationList,
    TrustStore,
    UntrustedCertificate,
    WrongPurpose,
    principal_of,
    read_certificate,
    revoke,
    utcnow,
)
from tests.principals import CHIYODA, HIRATSUKA


def _cert(layout: PkiLayout, principal: Principal, purpose: Purpose):
    return read_certificate(layout.node_dir(principal) / f"{purpose.value}.crt")


def test_every_demo_node_has_three_purposes_bound_to_one_identity(layout: PkiLayout, trust):
    for purpose in Purpose:
        cert = _cert(layout, HIRATSUKA, purpose)
        assert trust.verify(cert, purpose=purpose, at=utcnow(), expected=HIRATSUKA) == HIRATSUKA
    keys = {
        _cert(layout, HIRATSUKA, p).public_key().public_bytes_raw()
        for p in (Purpose.SIGN, Purpose.KEX)
    }
    assert len(keys) == 2


def test_the_only_san_is_the_principal_uri(layout: PkiLayout):
    cert = _cert(layout, HIRATSUKA, Purpose.TLS)
    assert principal_of(cert).uri == "spiffe://jukinet/municipality/142034"


def test_private_keys_are_owner_only(layout: PkiLayout):
    node = layout.node_dir(HIRATSUKA)
    for key in node.glob("*.key"):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(node.stat().st_mode) == 0o700
    assert stat.S_IMODE((layout.ca_dir / "ca.key").stat().st_mode) == 0o600


def test_a_credential_from_another_ca_is_rejected(other_pki, trust):
    other_layout, _ = other_pki
    cert = _cert(other_layout, HIRATSUKA, Purpose.SIGN)
    with pytest.raises(UntrustedCertificate):
        trust.verify(cert, purpose=Purpose.SIGN, at=utcnow(), expected=HIRATSUKA)


def test_an_expired_credential_is_rejected(tmp_path: Path, ca: CertificateAuthority, trust):
    layout = PkiLayout(tmp_path)
    past = utcnow() - dt.timedelta(days=10)
    layout.issue(ca, HIRATSUKA, validity=dt.timedelta(days=1), now=past)
    cert = _cert(layout, HIRATSUKA, Purpose.SIGN)
    with pytest.raises(CertificateExpired):
        trust.verify(cert, purpose=Purpose.SIGN, at=utcnow(), expected=HIRATSUKA)
    # and a certificate is not valid before its time either
    with pytest.raises(CertificateExpired):
        trust.verify(cert, purpose=Purpose.SIGN, at=past - dt.timedelta(days=1))


def test_a_credential_naming_another_node_is_rejected(layout: PkiLayout, trust):
    cert = _cert(layout, CHIYODA, Purpose.SIGN)
    with pytest.raises(IdentityMismatch):
        trust.verify(cert, purpose=Purpose.SIGN, at=utcnow(), expected=HIRATSUKA)


def test_a_key_used_for_the_wrong_purpose_is_rejected(layout: PkiLayout, trust):
    cert = _cert(layout, HIRATSUKA, Purpose.KEX)
    with pytest.raises(WrongPurpose):
        trust.verify(cert, purpose=Purpose.SIGN, at=utcnow(), expected=HIRATSUKA)


def test_validity_is_short_and_configurable(tmp_path: Path, ca: CertificateAuthority):
    layout = PkiLayout(tmp_path)
    creds = layout.issue(ca, AGENCY, validity=dt.timedelta(days=3))
    assert creds.signing_cert is not None
    lifetime = creds.signing_cert.not_valid_after_utc - creds.signing_cert.not_valid_before_utc
    assert dt.timedelta(days=3) <= lifetime <= dt.timedelta(days=3, minutes=10)


def test_operator_ic_card_is_a_signing_credential_only(tmp_path: Path, ca, trust):
    layout = PkiLayout(tmp_path)
    operator = Principal.parse("spiffe://jukinet/operator/142034/clerk-001")
    creds = layout.issue(ca, operator, validity=dt.timedelta(days=1))
    assert creds.signing_key is not None
    assert creds.kex_key is None
    assert not (layout.node_dir(operator) / "tls.key").exists()
    assert creds.signing_cert is not None
    assert trust.verify(creds.signing_cert, purpose=Purpose.SIGN, at=utcnow()) == operator


def test_loaded_credentials_round_trip(layout: PkiLayout):
    creds = Credentials.load(layout.node_dir(AGENCY), layout.ca_cert, AGENCY)
    assert creds.tls_cert_path.exists()
    assert creds.ca_certificate == read_certificate(layout.ca_cert)


def test_a_ca_reloads_from_disk_and_keeps_issuing(layout: PkiLayout, trust: TrustStore):
    ca = CertificateAuthority.load(layout.ca_dir)
    assert ca.certificate == trust.ca


@pytest.mark.parametrize(
    "uri",
    [
        "spiffe://jukinet/municipality/130001",  # a prefecture code is not a municipality
        "spiffe://jukinet/prefecture/142034",
        "spiffe://jukinet/municipality/142035",  # bad check digit
        "spiffe://other/municipality/142034",
        "spiffe://jukinet/agency/someone",
        "spiffe://jukinet/ministry/Bad Name",
        "spiffe://jukinet/operator/142034",
        "spiffe://jukinet/root/x",
    ],
)
def test_malformed_principals_are_refused(uri: str):
    with pytest.raises(InvalidPrincipal):
        Principal.parse(uri)


def test_principal_round_trip():
    for uri in (
        "spiffe://jukinet/agency/jlis",
        "spiffe://jukinet/prefecture/140007",
        "spiffe://jukinet/ministry/mofa-passport",
        "spiffe://jukinet/operator/jlis/admin-1",
    ):
        assert Principal.parse(uri).uri == uri
    assert HIRATSUKA.prefecture_of == Principal.prefecture("140007")
    assert Principal(PrincipalKind.OPS, "admin").slug == "ops.admin"


def test_a_certificate_presented_again_is_still_refused_once_revoked_or_expired(
    tmp_path: Path, ca: CertificateAuthority
) -> None:
    layout = PkiLayout(tmp_path)
    now = utcnow()
    layout.issue(ca, HIRATSUKA, validity=dt.timedelta(days=1), now=now)
    cert = _cert(layout, HIRATSUKA, Purpose.TLS)
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    store = TrustStore(ca.certificate, RevocationList(tmp_path / "revoked.json"))
    presented = PresentedCertificates(store, Purpose.TLS)
    assert presented.verify(pem, now) == HIRATSUKA
    assert presented.verify(pem, now) == HIRATSUKA  # from the cache
    with pytest.raises(CertificateExpired):
        presented.verify(pem, now + dt.timedelta(days=2))
    revoke(tmp_path / "revoked.json", [cert], now + dt.timedelta(minutes=1))
    assert presented.verify(pem, now) == HIRATSUKA, "revoked later than this presentation"
    with pytest.raises(CertificateRevoked):
        presented.verify(pem, now + dt.timedelta(minutes=2))
    signing = _cert(layout, HIRATSUKA, Purpose.SIGN).public_bytes(serialization.Encoding.PEM)
    for _ in range(2):  # a signing certificate over TLS: refused, and never cached
        with pytest.raises(WrongPurpose):
            presented.verify(signing.decode(), now)


def test_a_serving_node_gets_an_https_certificate_naming_its_hosts(
    tmp_path: Path, ca: CertificateAuthority
) -> None:
    layout = PkiLayout(tmp_path)
    hosts = ("lookups.jlis.example", "127.0.0.1")
    layout.issue(ca, AGENCY, validity=dt.timedelta(days=1), hosts=hosts)
    layout.issue(ca, HIRATSUKA, validity=dt.timedelta(days=1), hosts=hosts)
    https = read_certificate(layout.node_dir(AGENCY) / HTTPS_CERT)
    san = https.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["lookups.jlis.example"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    # for clients that check the principal
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == [AGENCY.uri]
    usage = https.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.SERVER_AUTH]  # never a client credential
    TrustStore(ca.certificate).verify_chain(https)
    # the broker maps certificates by DNS SANs before URI SANs: node TLS keeps only its URI
    tls = _cert(layout, AGENCY, Purpose.TLS)
    tls_san = tls.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert len(list(tls_san)) == 1
    assert not (layout.node_dir(HIRATSUKA) / HTTPS_CERT).exists()  # serves no lookups
