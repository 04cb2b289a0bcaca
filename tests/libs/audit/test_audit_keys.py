"""The keys `jukinet audit verify` trusts: only signing certificates the federation CA
issued to the node; other nodes' keys only name who signed a log checked under the
wrong node."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from types import SimpleNamespace

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import Encoding

from jukinet.audit import certified_keys
from jukinet.contracts.chains import FORGED, GENESIS, KeyRing, check_entry
from jukinet.contracts.principals import Principal
from jukinet.pki import CertificateAuthority, PkiLayout, Purpose, TrustStore, fingerprint
from tests.certs import self_signed
from tests.principals import CHIYODA, HIRATSUKA

VALIDITY = dt.timedelta(days=2)


def _plant(layout: PkiLayout, principal: Principal, cert: x509.Certificate) -> str:
    archive = layout.directory / "archive"
    archive.mkdir(exist_ok=True)
    path = archive / f"{principal.slug}.sign.{fingerprint(cert)}.crt"
    path.write_bytes(cert.public_bytes(Encoding.PEM))
    return path.name


def _raw(key: ed25519.Ed25519PublicKey) -> bytes:
    return key.public_bytes_raw()


def test_only_the_cas_certificates_naming_the_node_count(
    ca: CertificateAuthority, other_pki: tuple[PkiLayout, CertificateAuthority], tmp_path: Path
) -> None:
    layout = PkiLayout(tmp_path / "pki")
    hiratsuka, _ = layout.issue(ca, HIRATSUKA, validity=VALIDITY).require_signing()
    chiyoda, _ = layout.issue(ca, CHIYODA, validity=VALIDITY).require_signing()
    forger = ed25519.Ed25519PrivateKey.generate()
    planted = _plant(layout, HIRATSUKA, self_signed(forger, HIRATSUKA))
    foreign_layout, _ = other_pki
    foreign = _plant(layout, HIRATSUKA, _read(foreign_layout.public_cert(HIRATSUKA, Purpose.SIGN)))
    # another node's genuine certificate, filed under this node's name
    shutil.copy(
        layout.directory / f"{CHIYODA.slug}.sign.crt",
        layout.directory / "archive" / f"{HIRATSUKA.slug}.sign.copied.crt",
    )

    keys = certified_keys(layout, TrustStore(ca.certificate), HIRATSUKA)

    assert [_raw(k) for k in keys.ring.own] == [_raw(hiratsuka.public_key())]
    assert sorted(keys.ignored) == sorted([planted, foreign])
    others = {uri: [_raw(k) for k in ks] for uri, ks in keys.ring.others.items()}
    assert _raw(chiyoda.public_key()) in others[CHIYODA.uri]
    assert _raw(forger.public_key()) not in {k for ks in others.values() for k in ks}


def _read(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_a_log_checked_under_the_wrong_node_names_its_signer() -> None:
    signer, mine = ed25519.Ed25519PrivateKey.generate(), ed25519.Ed25519PrivateKey.generate()
    digest = "a" * 64
    row = SimpleNamespace(seq=1, prev_hash=GENESIS, hash=digest, signature=signer.sign(b"a" * 64))
    ring = KeyRing([mine.public_key()], {HIRATSUKA.uri: [signer.public_key()]})
    problem = check_entry(row, 1, GENESIS, digest, ring)
    assert problem is not None
    assert f"signed by another node's key ({HIRATSUKA.uri})" in problem
    assert check_entry(row, 1, GENESIS, digest, KeyRing([mine.public_key()])) == FORGED
    assert check_entry(row, 1, GENESIS, digest, [signer.public_key()]) is None
