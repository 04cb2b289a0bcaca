"""Principals: the named identities of the federation and their SPIFFE-style URIs.

Every certificate names exactly one principal in its only URI SAN, for example
``spiffe://jukinet/municipality/142034``. The same URI is the NATS user name the broker
maps the certificate to, and the issuer/audience of every envelope.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from enum import StrEnum

from jukinet.contracts.ids import InvalidCode, LocalGovernmentKind, parse_local_government_code

__all__ = ["AGENCY", "TRUST_DOMAIN", "InvalidPrincipal", "Principal", "PrincipalKind"]

TRUST_DOMAIN = "jukinet"
_PREFIX = f"spiffe://{TRUST_DOMAIN}/"
_SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")


class InvalidPrincipal(ValueError):
    """A principal name or URI is not well formed."""


class PrincipalKind(StrEnum):
    AGENCY = "agency"
    PREFECTURE = "prefecture"
    MUNICIPALITY = "municipality"
    MINISTRY = "ministry"
    OPERATOR = "operator"
    OPS = "ops"


@dataclass(frozen=True, slots=True, order=True)
class Principal:
    """A validated principal. ``name`` is a local government code, a slug, or
    ``<office code>/<slug>`` for an operator."""

    kind: PrincipalKind
    name: str

    def __post_init__(self) -> None:
        _validate(self.kind, self.name)

    @classmethod
    def parse(cls, uri: str) -> Principal:
        if not isinstance(uri, str) or not uri.startswith(_PREFIX):
            raise InvalidPrincipal("a principal URI starts with spiffe://jukinet/")
        return _parsed(uri)

    @classmethod
    def municipality(cls, code: str) -> Principal:
        return cls(PrincipalKind.MUNICIPALITY, code)

    @classmethod
    def prefecture(cls, code: str) -> Principal:
        return cls(PrincipalKind.PREFECTURE, code)

    @property
    def uri(self) -> str:
        return f"{_PREFIX}{self.kind.value}/{self.name}"

    @property
    def slug(self) -> str:
        """A file- and subject-safe form: ``municipality.142034``."""
        return f"{self.kind.value}.{self.name.replace('/', '.')}"

    @property
    def code(self) -> str:
        """The node's code as used in NATS subjects (its LG code or slug)."""
        return self.name.replace("/", ".")

    @property
    def prefecture_of(self) -> Principal:
        """The prefecture a municipality or prefecture belongs to."""
        if self.kind not in (PrincipalKind.MUNICIPALITY, PrincipalKind.PREFECTURE):
            raise InvalidPrincipal("only local governments belong to a prefecture")
        return Principal.prefecture(parse_local_government_code(self.name).prefecture.code)

    def __str__(self) -> str:
        return self.uri


AGENCY_NAME = "jlis"


def _validate(kind: PrincipalKind, name: str) -> None:
    if kind in (PrincipalKind.MUNICIPALITY, PrincipalKind.PREFECTURE):
        _validate_lg(kind, name)
    elif kind is PrincipalKind.AGENCY:
        if name != AGENCY_NAME:
            raise InvalidPrincipal("the agency principal is named 'jlis'")
    elif kind is PrincipalKind.OPERATOR:
        office, _, operator = name.partition("/")
        if office != AGENCY_NAME:
            _validate_lg_any(office)
        if not _SLUG.fullmatch(operator):
            raise InvalidPrincipal("an operator is named <office code>/<slug>")
    elif not _SLUG.fullmatch(name):
        raise InvalidPrincipal("a ministry or ops principal is named by a lowercase slug")


def _validate_lg(kind: PrincipalKind, name: str) -> None:
    try:
        code = parse_local_government_code(name)
    except InvalidCode as exc:
        raise InvalidPrincipal(exc.reason) from None
    wanted = LocalGovernmentKind.PREFECTURE if kind is PrincipalKind.PREFECTURE else None
    if (wanted is None) == code.is_prefecture:
        raise InvalidPrincipal(f"code is not a {kind.value} code")


def _validate_lg_any(name: str) -> None:
    try:
        parse_local_government_code(name)
    except InvalidCode as exc:
        raise InvalidPrincipal(exc.reason) from None


AGENCY = Principal(PrincipalKind.AGENCY, AGENCY_NAME)


@functools.lru_cache(maxsize=4096)
def _parsed(uri: str) -> Principal:
    """Principal URIs parsed once each: every message names two, every certificate one,
    and a federation has a few thousand principals (a refused URI is not remembered)."""
    kind, _, name = uri[len(_PREFIX) :].partition("/")
    try:
        return Principal(PrincipalKind(kind), name)
    except ValueError as exc:
        raise InvalidPrincipal(f"unknown or malformed principal: {exc}") from None
