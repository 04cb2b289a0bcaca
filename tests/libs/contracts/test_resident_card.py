"""The resident's card signs an online move-out that only its own public key verifies;
the filing's rules hold before anything is signed; the certificate's period is fixed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from pydantic import ValidationError

from jukinet.contracts.moveout import OnlineMoveOut
from jukinet.contracts.residentcard import (
    BadCardSignature,
    ResidentCard,
    claimed_card,
    verify_move_out,
)

TODAY = dt.date(2026, 12, 1)
FILING = {"town": "142034", "resident_code": "12345678903", "planned_on": TODAY,
          "destination_municipality": "131016", "destination_address": "東京都千代田区1-1",
          "visit_on": TODAY + dt.timedelta(days=2)}  # fmt: skip


def test_the_card_signs_and_only_its_key_verifies(tmp_path: Path) -> None:
    card = ResidentCard.create(tmp_path / "card.key")
    assert (tmp_path / "card.key").stat().st_mode & 0o777 == 0o600
    again = ResidentCard.load(tmp_path / "card.key")
    assert again.public_key == card.public_key
    token = card.move_out(**FILING)
    assert claimed_card(token) == card.public_key
    filing = verify_move_out(token, card.public_key)
    assert (filing.destination_municipality, filing.planned_on) == ("131016", TODAY)
    other = ResidentCard.create(tmp_path / "other.key")
    with pytest.raises(BadCardSignature):
        verify_move_out(token, other.public_key)
    header, payload, signature = token.split(".")
    with pytest.raises(BadCardSignature):
        verify_move_out(f"{header}.{payload[:-4]}AAAA.{signature}", card.public_key)
    with pytest.raises(BadCardSignature):  # another document the card signed
        verify_move_out(card.sign(b'{"login": true}'), card.public_key)
    with pytest.raises(BadCardSignature):
        claimed_card("not a jws")


@pytest.mark.parametrize(
    ("changed", "rule"),
    [
        ({"destination_municipality": "142034"}, "転居"),
        ({"visit_on": TODAY - dt.timedelta(days=1)}, "the visit falls"),
        ({"visit_on": TODAY + dt.timedelta(days=31)}, "the visit falls"),
        ({"town": "130001"}, "municipality code is required"),
    ],
)
def test_a_filing_that_is_no_move_out_is_not_signed(
    tmp_path: Path, changed: dict[str, object], rule: str
) -> None:
    card = ResidentCard.create(tmp_path / "card.key")
    with pytest.raises(ValidationError, match=rule):
        card.move_out(**(FILING | changed))  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        OnlineMoveOut.model_validate(FILING | changed | {"nonce": "0" * 32,
                                                         "signed_at": "2026-12-01T00:00:00"})  # fmt: skip


def test_only_a_move_out_may_carry_a_date_ahead_and_at_most_14_days() -> None:
    from jukinet.contracts.identity import IdentityRecord

    base = {"resident_code": "12345678903", "municipality": "142034", "name": "山田 花子",
            "birth_date": "1990-01-01", "sex": "female", "address": "神奈川県平塚市1-1"}  # fmt: skip
    today = dt.datetime.now(dt.UTC).date()
    ahead = (today + dt.timedelta(days=14)).isoformat()
    planned = IdentityRecord.model_validate(base | {"change_reason": "move_out",
                                                    "change_date": ahead})  # fmt: skip
    assert planned.is_deleted
    too_far = (today + dt.timedelta(days=16)).isoformat()
    with pytest.raises(ValidationError, match="planned date"):
        IdentityRecord.model_validate(base | {"change_reason": "move_out", "change_date": too_far})
    with pytest.raises(ValidationError, match="between birth and today"):
        IdentityRecord.model_validate(base | {"change_reason": "death", "change_date": ahead})
