"""Resident-code pools (住民票コードの指定): the wire contract between a municipality and
the agency.

The agency alone issues resident codes, so that they are unique nationwide and never
reissued. A municipality whose pool of undrawn codes runs low asks for more
(``codes.refill_request``); the agency draws fresh random codes, records them in its
national registry as designated to that municipality, and sends them back
(``codes.pool``). Codes are personal data once drawn: they travel only inside sealed
messages, and validation errors here name fields and kinds, never values.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from jukinet.contracts.identity import ResidentCode, summarize
from jukinet.contracts.messages import BATCH_TYPE_SUFFIX, Rejected

__all__ = [
    "CODES_MIGRATED",
    "CODES_MIGRATED_BATCH",
    "CODE_DESIGNATED",
    "CODE_DESIGNATED_BATCH",
    "CODE_POOL",
    "CODE_POOL_BATCH",
    "CODE_REFILL_REQUEST",
    "CODE_REFILL_REQUEST_BATCH",
    "MAX_CODES_PER_REQUEST",
    "CodeDesignation",
    "MigratedCodes",
    "RefillRequest",
    "parse_designations",
    "parse_migrated",
    "parse_refill_requests",
]

CODE_REFILL_REQUEST = "codes.refill_request"  # municipality → agency
CODE_POOL = "codes.pool"  # agency → municipality
CODE_REFILL_REQUEST_BATCH = CODE_REFILL_REQUEST + BATCH_TYPE_SUFFIX
CODE_POOL_BATCH = CODE_POOL + BATCH_TYPE_SUFFIX
# municipality → its prefecture: the agency's signed codes.pool message, passed on before
# any change that uses its codes (one channel, in order), so the prefecture learns them
CODE_DESIGNATED = "codes.designated"
CODE_DESIGNATED_BATCH = CODE_DESIGNATED + BATCH_TYPE_SUFFIX
# municipality → prefecture → agency: the codes of a migrated register, claimed as the
# town's before the changes that record them (the agency registers the ones it never saw)
CODES_MIGRATED = "codes.migrated"
CODES_MIGRATED_BATCH = CODES_MIGRATED + BATCH_TYPE_SUFFIX
# One designation stays a small message (~15 bytes a code) and a quick transaction; a
# municipality that wants more simply asks again once the answer has arrived.
MAX_CODES_PER_REQUEST = 10_000
# The outbox relay packs at most 500 items into one message; anything far above is not ours.
MAX_ITEMS_PER_MESSAGE = 1000
MAX_POOL_SIZE = 100_000_000
_HEX_ID = r"^[0-9a-f]{32}$"


class RefillRequest(BaseModel):
    """A municipality asks for ``wanted`` more codes; it has ``remaining`` undrawn."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    request_id: str = Field(pattern=_HEX_ID)
    wanted: int = Field(ge=1, le=MAX_CODES_PER_REQUEST)
    remaining: int = Field(ge=0, le=MAX_POOL_SIZE)


class CodeDesignation(BaseModel):
    """Codes the agency designates to the receiving municipality, answering a request."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    designation_id: str = Field(pattern=_HEX_ID)
    request_id: str | None = Field(default=None, pattern=_HEX_ID)
    codes: list[ResidentCode] = Field(min_length=1, max_length=MAX_CODES_PER_REQUEST)

    @field_validator("codes")
    @classmethod
    def _distinct(cls, codes: list[str]) -> list[str]:
        if len(set(codes)) != len(codes):
            raise ValueError("a designation names each code once")
        return codes


class MigratedCodes(BaseModel):
    """Resident codes a migrated register issued (or the import drew), claimed as the
    sending municipality's."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    codes: list[ResidentCode] = Field(min_length=1, max_length=MAX_CODES_PER_REQUEST)

    @field_validator("codes")
    @classmethod
    def _distinct(cls, codes: list[str]) -> list[str]:
        if len(set(codes)) != len(codes):
            raise ValueError("a claim names each code once")
        return codes


_Item = TypeVar("_Item", bound=BaseModel)


def parse_refill_requests(payload: dict[str, Any]) -> list[RefillRequest]:
    """The requests of a batch payload; :class:`~jukinet.bus.Rejected` if malformed."""
    return _items(payload, _REQUESTS)


def parse_designations(payload: dict[str, Any]) -> list[CodeDesignation]:
    """The designations of a batch payload; :class:`~jukinet.bus.Rejected` if malformed."""
    return _items(payload, _DESIGNATIONS)


def _items(payload: dict[str, Any], adapter: TypeAdapter[list[_Item]]) -> list[_Item]:
    items = payload.get("items")
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_ITEMS_PER_MESSAGE:
        raise Rejected("invalid_payload", f"items must be a list of 1 to {MAX_ITEMS_PER_MESSAGE}")
    try:
        return adapter.validate_python(items)
    except ValidationError as exc:
        raise Rejected("invalid_payload", summarize(exc)) from None


def parse_migrated(payload: dict[str, Any]) -> list[MigratedCodes]:
    """The claims of a batch payload; :class:`~jukinet.bus.Rejected` if malformed."""
    return _items(payload, _MIGRATED)


_REQUESTS = TypeAdapter(list[RefillRequest])
_MIGRATED = TypeAdapter(list[MigratedCodes])
_DESIGNATIONS = TypeAdapter(list[CodeDesignation])
