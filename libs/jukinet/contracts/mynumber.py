"""個人番号 (My Number) as the network carries it: the number's form, and the wire contract
between a municipality and the agency for generating it.

The municipality that records a resident under a new resident code asks the agency for
the number to assign (番号法第8条第1項: ``numbers.request``); the agency generates it
from the resident code — unique nationwide, not restorable to the code, never issued
twice (同条第2項) — and answers the town alone (``numbers.assigned``), which records it
and notifies the resident (第7条第1項). A number is changed only on the resident's
request, or ex officio, when it has leaked and may be misused (第7条第2項): the town asks
again with reason ``leaked``; the old number is retired, never to be issued again.

The number is personal data of the most sensitive kind (特定個人情報): it travels only
inside sealed messages, never in a log, URL, metric or error message — validation
errors here name fields and kinds, never values.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from jukinet.contracts.identity import ResidentCode, summarize
from jukinet.contracts.messages import BATCH_TYPE_SUFFIX, Rejected

__all__ = [
    "NUMBER_ASSIGNED",
    "NUMBER_ASSIGNED_BATCH",
    "NUMBER_REQUEST",
    "NUMBER_REQUEST_BATCH",
    "IndividualNumber",
    "NumberAssigned",
    "NumberWanted",
    "individual_number_check_digit",
    "is_individual_number",
    "parse_assigned",
    "parse_wanted",
]

NUMBER_REQUEST = "numbers.request"  # municipality → agency
NUMBER_ASSIGNED = "numbers.assigned"  # agency → that municipality
NUMBER_REQUEST_BATCH = NUMBER_REQUEST + BATCH_TYPE_SUFFIX
NUMBER_ASSIGNED_BATCH = NUMBER_ASSIGNED + BATCH_TYPE_SUFFIX
MAX_ITEMS_PER_MESSAGE = 1000

# 総務省令第八十五号 (平成26年11月20日; 行政手続における特定の個人を識別するための番号の
# 利用等に関する法律の規定による通知カード及び個人番号カード並びに情報提供ネットワーク
# システムによる特定個人情報の提供等に関する省令) 第五条, under 番号法施行令第八条:
#   check = 11 − (Σ_{n=1..11} Pn × Qn mod 11), or 0 when that remainder is 0 or 1;
#   Pn: the n-th digit of the 11-digit body counted from its least significant digit;
#   Qn: n + 1 for 1 ≤ n ≤ 6, n − 5 for 7 ≤ n ≤ 11.
_WEIGHTS_FROM_RIGHT = tuple(n + 1 if n <= 6 else n - 5 for n in range(1, 12))  # 2..7, 2..6


def individual_number_check_digit(body: str) -> int:
    """The check digit (検査用数字) of an 11-digit body, by the ordinance's formula."""
    if len(body) != 11 or not body.isascii() or not body.isdigit():
        raise ValueError("the body of an individual number is 11 ASCII digits")
    digits_from_right = map(int, reversed(body))
    remainder = sum(map(operator.mul, digits_from_right, _WEIGHTS_FROM_RIGHT)) % 11
    return 0 if remainder <= 1 else 11 - remainder


def is_individual_number(value: str) -> bool:
    return (
        len(value) == 12
        and value.isascii()
        and value.isdigit()
        and individual_number_check_digit(value[:11]) == int(value[11])
    )


def _individual_number(value: str) -> str:
    if not is_individual_number(value):
        raise ValueError("an individual number is 12 digits, the last a check digit")
    return value


IndividualNumber = Annotated[
    str, Field(min_length=12, max_length=12), AfterValidator(_individual_number)
]


class NumberWanted(BaseModel):
    """A town asks for the number to assign to the resident under ``resident_code``:
    ``new`` (a newly recorded code; asked again, the same number is answered) or
    ``leaked`` (the number in use has leaked: a new one replaces it)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    resident_code: ResidentCode
    reason: Literal["new", "leaked"]


class NumberAssigned(BaseModel):
    """The agency's answer for one resident: the number, or why none (``refused``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    resident_code: ResidentCode
    individual_number: IndividualNumber | None = None
    refused: Literal["not_designated_here"] | None = None


def parse_wanted(payload: dict[str, Any]) -> list[NumberWanted]:
    """The requests of a batch payload; :class:`~jukinet.bus.Rejected` if malformed."""
    return _items(payload, _WANTED)


def parse_assigned(payload: dict[str, Any]) -> list[NumberAssigned]:
    return _items(payload, _ASSIGNED)


def _items(payload: dict[str, Any], adapter: TypeAdapter[list[Any]]) -> list[Any]:
    items = payload.get("items")
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_ITEMS_PER_MESSAGE:
        raise Rejected("invalid_payload", f"items must be a list of 1 to {MAX_ITEMS_PER_MESSAGE}")
    try:
        return list(adapter.validate_python(items))
    except ValidationError as exc:
        raise Rejected("invalid_payload", summarize(exc)) from None


_WANTED = TypeAdapter(list[NumberWanted])
_ASSIGNED = TypeAdapter(list[NumberAssigned])
