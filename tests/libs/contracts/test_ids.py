from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jukinet.contracts.ids import (
    InvalidCode,
    LocalGovernmentKind,
    explain_resident_code,
    generate_resident_code,
    is_valid_resident_code,
    local_government_check_digit,
    parse_local_government_code,
    resident_code_check_digit,
)

KNOWN_GOOD = {
    "130001": LocalGovernmentKind.PREFECTURE,  # 東京都
    "131016": LocalGovernmentKind.MUNICIPALITY,  # 千代田区
    "131041": LocalGovernmentKind.MUNICIPALITY,  # 新宿区
    "140007": LocalGovernmentKind.PREFECTURE,  # 神奈川県
    "141003": LocalGovernmentKind.MUNICIPALITY,  # 横浜市
    "142034": LocalGovernmentKind.MUNICIPALITY,  # 平塚市
}

ten_digits = st.text(alphabet="0123456789", min_size=10, max_size=10)


@pytest.mark.parametrize(("code", "kind"), KNOWN_GOOD.items())
def test_known_local_government_codes_pass(code: str, kind: LocalGovernmentKind) -> None:
    parsed = parse_local_government_code(code)
    assert parsed.kind is kind
    assert parsed.prefecture.code == code[:2] + "000" + {"13": "1", "14": "7"}[code[:2]]


def test_prefecture_of_a_municipality() -> None:
    assert parse_local_government_code("142034").prefecture.code == "140007"
    assert parse_local_government_code("131016").prefecture.code == "130001"
    assert parse_local_government_code("140007").is_prefecture


def _lg_remainder(five: str) -> int:
    return sum(int(d) * w for d, w in zip(five, (6, 5, 4, 3, 2), strict=True)) % 11


@pytest.mark.parametrize("code", KNOWN_GOOD)
def test_every_single_digit_change_of_a_local_government_code_is_caught(code: str) -> None:
    """Caught, except where the published formula itself maps two remainders (0 and 10)
    to the same check digit 1; those few are enumerated, not ignored."""
    collisions = 0
    for position in range(6):
        for digit in "0123456789":
            if digit == code[position]:
                continue
            changed = code[:position] + digit + code[position + 1 :]
            remainders = {_lg_remainder(code[:5]), _lg_remainder(changed[:5])}
            if position < 5 and remainders == {0, 10}:
                collisions += 1
                continue
            with pytest.raises(InvalidCode):
                parse_local_government_code(changed)
    assert collisions <= 5


@pytest.mark.parametrize(
    "bad", ["", "13000", "1300011", "13000a", "１３０００１", "480006", "000000"]
)
def test_malformed_local_government_codes_are_refused(bad: str) -> None:
    with pytest.raises(InvalidCode):
        parse_local_government_code(bad)


def test_resident_code_check_digit_by_hand() -> None:
    # body 1234567890, weights from the right: 0*2+9*3+8*4+7*5+6*6+5*7+4*2+3*3+2*4+1*5 = 195
    # 195 mod 11 = 8 -> check 3
    assert resident_code_check_digit("1234567890") == 3
    assert is_valid_resident_code("12345678903")
    # remainder 0 or 1 gives 0
    assert resident_code_check_digit("0000000000") == 0


@given(ten_digits)
def test_generated_bodies_always_validate(body: str) -> None:
    code = body + str(resident_code_check_digit(body))
    assert is_valid_resident_code(code)


def _rc_remainder(body: str) -> int:
    weights = (2, 3, 4, 5, 6, 7, 2, 3, 4, 5)
    return sum(int(d) * w for d, w in zip(reversed(body), weights, strict=True)) % 11


def _undetectable(code: str, changed: str) -> bool:
    """The published scheme maps remainders 0 and 1 both to check digit 0: a change that
    moves the body between those two remainders cannot be caught by any implementation."""
    return {_rc_remainder(code[:10]), _rc_remainder(changed[:10])} == {0, 1}


@given(ten_digits, st.integers(0, 10), st.integers(1, 9))
def test_every_single_digit_change_of_a_resident_code_is_caught(
    body: str, position: int, delta: int
) -> None:
    code = body + str(resident_code_check_digit(body))
    changed_digit = str((int(code[position]) + delta) % 10)
    changed = code[:position] + changed_digit + code[position + 1 :]
    assert is_valid_resident_code(changed) == _undetectable(code, changed)


@pytest.mark.parametrize("body", ["1234567890", "0000000001", "9876543210", "5550001234"])
def test_every_single_digit_change_exhaustively(body: str) -> None:
    code = body + str(resident_code_check_digit(body))
    for position in range(11):
        for digit in "0123456789":
            if digit != code[position]:
                changed = code[:position] + digit + code[position + 1 :]
                assert is_valid_resident_code(changed) == _undetectable(code, changed)


@given(st.integers(0, 10**10 - 1))
def test_generation_uses_the_drawn_number_and_validates(drawn: int) -> None:
    code = generate_resident_code(lambda _upper: drawn)
    assert code[:10] == f"{drawn:010d}"
    assert is_valid_resident_code(code)


def test_generation_draws_from_a_secure_source() -> None:
    codes = {generate_resident_code() for _ in range(200)}
    assert len(codes) == 200
    assert all(is_valid_resident_code(c) for c in codes)


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("1234567890", "11 digits"),
        ("1234567890a", "ASCII digits"),
        ("１２３４５６７８９０３", "ASCII digits"),
        ("12345678904", "check digit"),
    ],
)
def test_invalid_resident_codes_are_explained(code: str, reason: str) -> None:
    explanation = explain_resident_code(code)
    assert explanation is not None
    assert reason in explanation
    assert code not in explanation


@given(st.text(max_size=20))
def test_explain_never_raises(text: str) -> None:
    result = explain_resident_code(text)
    assert (result is None) == is_valid_resident_code(text)


def test_local_government_check_digit_formula() -> None:
    # 14203: 1*6+4*5+2*4+0*3+3*2 = 40; 40 mod 11 = 7; 11-7 = 4
    assert local_government_check_digit("14203") == 4
    # 13000: 1*6+3*5 = 21; 21 mod 11 = 10; 11-10 = 1
    assert local_government_check_digit("13000") == 1
