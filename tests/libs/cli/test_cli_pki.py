from __future__ import annotations

import datetime as dt
import stat
from pathlib import Path

from cryptography import x509
from typer.testing import CliRunner

from jukinet.cli import app
from jukinet.contracts.principals import Principal
from jukinet.pki import Purpose, RevocationList, TrustStore, principal_of, read_certificate, utcnow

runner = CliRunner()


def test_pki_init_creates_the_demo_federation(tmp_path: Path) -> None:
    result = runner.invoke(app, ["pki", "init", "--root", str(tmp_path), "--days", "3"])
    assert result.exit_code == 0, result.output
    trust = TrustStore(read_certificate(tmp_path / "ca.crt"))
    for uri in (
        "spiffe://jukinet/agency/jlis",
        "spiffe://jukinet/prefecture/130001",
        "spiffe://jukinet/prefecture/140007",
        "spiffe://jukinet/municipality/131016",
        "spiffe://jukinet/municipality/131041",
        "spiffe://jukinet/municipality/142034",
        "spiffe://jukinet/municipality/141003",
        "spiffe://jukinet/ministry/mofa-passport",
    ):
        principal = Principal.parse(uri)
        cert = read_certificate(tmp_path / "nodes" / principal.slug / "tls.crt")
        assert trust.verify(cert, purpose=Purpose.TLS, at=utcnow(), expected=principal)
    assert stat.S_IMODE((tmp_path / "ca" / "ca.key").stat().st_mode) == 0o600
    broker = read_certificate(tmp_path / "nodes" / "broker" / "tls.crt")
    san = broker.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {"localhost", "nats"} <= set(san.get_values_for_type(x509.DNSName))
    trust.verify_chain(broker)


def test_pki_init_refuses_to_overwrite_a_ca(tmp_path: Path) -> None:
    assert runner.invoke(app, ["pki", "init", "--root", str(tmp_path)]).exit_code == 0
    before = (tmp_path / "ca.crt").read_bytes()
    assert runner.invoke(app, ["pki", "init", "--root", str(tmp_path)]).exit_code == 1
    assert (tmp_path / "ca.crt").read_bytes() == before


def test_pki_issue_adds_one_principal(tmp_path: Path) -> None:
    runner.invoke(app, ["pki", "init", "--root", str(tmp_path)])
    uri = "spiffe://jukinet/operator/142034/clerk-007"
    result = runner.invoke(app, ["pki", "issue", uri, "--root", str(tmp_path)])
    assert result.exit_code == 0, result.output
    cert = read_certificate(tmp_path / "nodes" / "operator.142034.clerk-007" / "sign.crt")
    assert principal_of(cert).uri == uri


def test_pki_issue_refuses_a_malformed_principal(tmp_path: Path) -> None:
    runner.invoke(app, ["pki", "init", "--root", str(tmp_path)])
    result = runner.invoke(
        app, ["pki", "issue", "spiffe://jukinet/municipality/142035", "--root", str(tmp_path)]
    )
    assert result.exit_code == 2


def test_pki_rotate_issues_new_keys_and_revokes_the_old(tmp_path: Path) -> None:
    runner.invoke(app, ["pki", "init", "--root", str(tmp_path)])
    uri = "spiffe://jukinet/municipality/142034"
    node = tmp_path / "nodes" / "municipality.142034"
    old = read_certificate(node / "sign.crt")
    result = runner.invoke(app, ["pki", "rotate", uri, "--root", str(tmp_path)])
    assert result.exit_code == 0, result.output
    new = read_certificate(node / "sign.crt")
    assert new.public_key().public_bytes_raw() != old.public_key().public_bytes_raw()
    revocations = RevocationList(tmp_path / "revoked.json")
    assert revocations.revoked_at(old) is not None
    assert revocations.revoked_at(new) is None
    conf = tmp_path / "nats.conf"
    assert (
        runner.invoke(
            app, ["broker", "config", "--out", str(conf), "--pki-root", str(tmp_path)]
        ).exit_code
        == 0
    )
    assert '"pinned_certs"' in conf.read_text()


def test_pki_renew_reissues_only_what_expires_soon_and_never_operator_cards(
    tmp_path: Path,
) -> None:
    assert (
        runner.invoke(app, ["pki", "init", "--root", str(tmp_path), "--days", "1"]).exit_code == 0
    )
    card = "spiffe://jukinet/operator/142034/clerk-008"
    assert (
        runner.invoke(app, ["pki", "issue", card, "--root", str(tmp_path), "--days", "1"]).exit_code
        == 0
    )
    agency = tmp_path / "nodes" / "agency.jlis"
    card_dir = tmp_path / "nodes" / "operator.142034.clerk-008"
    before = {p: read_certificate(p).serial_number for p in (agency / "tls.crt", agency / "https.crt",
                                                             card_dir / "sign.crt")}  # fmt: skip
    quiet = runner.invoke(app, ["pki", "renew", "--root", str(tmp_path), "--within-days", "0"])
    assert quiet.exit_code == 0, quiet.output
    assert "0 renewed" in quiet.output
    result = runner.invoke(app, ["pki", "renew", "--root", str(tmp_path), "--within-days", "2",
                                 "--days", "7"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "renewed spiffe://jukinet/agency/jlis" in result.output
    assert "renewed the broker" in result.output
    for path, serial in before.items():
        renewed = read_certificate(path)
        if path.parent == card_dir:  # an IC card is registered with the operator: untouched
            assert renewed.serial_number == serial
        else:
            assert renewed.serial_number != serial
            assert renewed.not_valid_after_utc > utcnow() + dt.timedelta(days=6)
    assert not (tmp_path / "revoked.json").exists()  # renewal revokes nothing
