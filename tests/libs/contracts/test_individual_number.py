"""個人番号's form: the check digit of 総務省令第85号第5条 (a worked example, and every
single-digit slip caught), and the generator's properties: valid, deterministic for one
key and attempt, different under another key or attempt."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from agency.numbers import generate
from jukinet.contracts.mynumber import (
    IndividualNumber,
    individual_number_check_digit,
    is_individual_number,
)

VALID = "123456789018"  # Σ = 1·2+0·3+9·4+8·5+7·6+6·7+5·2+4·3+3·4+2·5+1·6 = 212; 212 mod 11 = 3; 11−3 = 8


def test_the_ordinances_formula_on_a_worked_example() -> None:
    assert individual_number_check_digit(VALID[:11]) == 8
    assert individual_number_check_digit("00000000000") == 0  # remainder 0 gives 0


def test_a_remainder_of_one_gives_zero() -> None:
    body = next(f"{n:011d}" for n in range(1, 10_000) if _remainder(f"{n:011d}") == 1)
    assert individual_number_check_digit(body) == 0


def _remainder(body: str) -> int:
    weights = [n + 1 if n <= 6 else n - 5 for n in range(1, 12)]
    return sum(int(d) * w for d, w in zip(reversed(body), weights, strict=True)) % 11


@pytest.mark.parametrize("position", range(12))
def test_every_single_digit_slip_is_caught(position: int) -> None:
    for digit in "0123456789":
        slipped = VALID[:position] + digit + VALID[position + 1 :]
        assert is_individual_number(slipped) == (slipped == VALID)


@pytest.mark.parametrize(
    "value", ["12345678901", "1234567890180", "12345678901a", "１２３４５６７８９０１８"]
)
def test_the_wrong_form_is_refused_without_repeating_it(value: str) -> None:
    with pytest.raises(ValidationError) as refused:
        TypeAdapter(IndividualNumber).validate_python(value)
    assert value not in str(refused.value.errors(include_input=False))


def test_generated_numbers_are_valid_keyed_and_never_start_with_zero() -> None:
    key, other = b"k" * 32, b"o" * 32
    numbers = {generate(key, f"{n:011d}", 0) for n in range(2000)}
    assert len(numbers) == 2000
    assert all(is_individual_number(n) and n[0] != "0" for n in numbers)
    assert generate(key, "12345678903", 0) == generate(key, "12345678903", 0)
    assert generate(key, "12345678903", 0) != generate(other, "12345678903", 0)
    assert generate(key, "12345678903", 0) != generate(key, "12345678903", 1)
