"""Identifiers: resident codes (住民票コード) and local government codes (全国地方公共団体コード).

Both check-digit formulas live in exactly one function each so they can be swapped when
the official definitions are adopted.
"""

from __future__ import annotations

import functools
import operator
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "RESIDENT_CODE_LENGTH",
    "InvalidCode",
    "LocalGovernmentCode",
    "LocalGovernmentKind",
    "explain_resident_code",
    "generate_resident_code",
    "is_valid_resident_code",
    "local_government_check_digit",
    "parse_local_government_code",
    "resident_code_check_digit",
]

RESIDENT_CODE_LENGTH = 11
_RESIDENT_WEIGHTS = (2, 3, 4, 5, 6, 7, 2, 3, 4, 5)
_RESIDENT_WEIGHTS_LEFT_TO_RIGHT = tuple(reversed(_RESIDENT_WEIGHTS))
_LG_WEIGHTS = (6, 5, 4, 3, 2)
_PREFECTURE_COUNT = 47


class InvalidCode(ValueError):
    """A code failed validation; ``reason`` says why without repeating the code itself."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def resident_code_check_digit(body: str) -> int:
    """Modulus-11 check digit over the 10-digit body of a resident code.

    Weights 2,3,4,5,6,7,2,3,4,5 apply from the least significant digit;
    check = 11 - (sum mod 11), or 0 when the remainder is 0 or 1.
    """
    if len(body) != RESIDENT_CODE_LENGTH - 1 or not body.isascii() or not body.isdigit():
        raise InvalidCode("the body of a resident code is 10 ASCII digits")
    total = sum(map(operator.mul, map(int, body), _RESIDENT_WEIGHTS_LEFT_TO_RIGHT))
    remainder = total % 11
    return 0 if remainder <= 1 else 11 - remainder


def explain_resident_code(code: str) -> str | None:
    """Return why ``code`` is not a valid resident code, or None when it is valid."""
    if len(code) != RESIDENT_CODE_LENGTH:
        return f"a resident code has {RESIDENT_CODE_LENGTH} digits, got {len(code)} characters"
    if not code.isascii() or not code.isdigit():
        return "a resident code contains only the ASCII digits 0-9"
    if resident_code_check_digit(code[:-1]) != int(code[-1]):
        return "the check digit does not match"
    return None


def is_valid_resident_code(code: str) -> bool:
    return explain_resident_code(code) is None


def generate_resident_code(randbelow: Callable[[int], int] = secrets.randbelow) -> str:
    """Draw a new resident code: 10 digits from a CSPRNG plus the check digit.

    ``randbelow`` is replaceable only so tests can fix randomness.
    """
    body = f"{randbelow(10 ** (RESIDENT_CODE_LENGTH - 1)):010d}"
    return body + str(resident_code_check_digit(body))


def local_government_check_digit(five: str) -> int:
    """Check digit of a local government code.

    Weights 6,5,4,3,2 on the five digits; check = last digit of 11 - (sum mod 11).
    """
    if len(five) != 5 or not five.isascii() or not five.isdigit():
        raise InvalidCode("the body of a local government code is 5 ASCII digits")
    total = sum(int(d) * w for d, w in zip(five, _LG_WEIGHTS, strict=True))
    return (11 - total % 11) % 10


class LocalGovernmentKind(StrEnum):
    PREFECTURE = "prefecture"
    MUNICIPALITY = "municipality"


@dataclass(frozen=True, slots=True)
class LocalGovernmentCode:
    """A validated 6-digit local government code."""

    code: str

    @property
    def prefecture_number(self) -> int:
        return int(self.code[:2])

    @property
    def kind(self) -> LocalGovernmentKind:
        if self.code[2:5] == "000":
            return LocalGovernmentKind.PREFECTURE
        return LocalGovernmentKind.MUNICIPALITY

    @property
    def is_prefecture(self) -> bool:
        return self.kind is LocalGovernmentKind.PREFECTURE

    @property
    def prefecture(self) -> LocalGovernmentCode:
        """The prefecture this code belongs to (itself for a prefecture)."""
        body = self.code[:2] + "000"
        return LocalGovernmentCode(body + str(local_government_check_digit(body)))

    def __str__(self) -> str:
        return self.code


def parse_local_government_code(code: str) -> LocalGovernmentCode:
    """Validate a 6-digit local government code or raise :class:`InvalidCode`."""
    if not isinstance(code, str) or len(code) != 6 or not code.isascii() or not code.isdigit():
        raise InvalidCode("a local government code is 6 ASCII digits")
    return _parsed_local_government_code(code)


@functools.lru_cache(maxsize=4096)
def _parsed_local_government_code(code: str) -> LocalGovernmentCode:
    """Each code checked once: a migration names its one town thousands of times, and
    there are under two thousand local governments (a refused code is not remembered)."""
    if not 1 <= int(code[:2]) <= _PREFECTURE_COUNT:
        raise InvalidCode("the first two digits must name one of the 47 prefectures")
    if local_government_check_digit(code[:5]) != int(code[5]):
        raise InvalidCode("the check digit of the local government code does not match")
    return LocalGovernmentCode(code)
