"""The permission table as data: which client may receive which identity facts, for which
affair of the Appended Tables of the Basic Resident Registry Act, by which query kinds.

A versioned TOML file in the repository is the source; `jukinet permissions load` puts it
into a node's database; `jukinet permissions show` reports what is in force.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "BY_CODE_KINDS",
    "FIELDS",
    "ClientEntry",
    "GrantEntry",
    "PermissionTable",
    "QueryKind",
    "Sector",
    "load_table",
]

# What a provision may contain. "status" alone answers existence (生存確認).
FIELDS = (
    "status",
    "resident_code",
    "name",
    "name_kana",
    "former_surname",  # 旧氏 (a national's, when recorded)
    "former_surname_kana",
    "alias",  # 通称 (a foreign resident's, when recorded)
    "alias_kana",
    "nationality",  # 国籍・地域 (a foreign resident's)
    "birth_date",
    "sex",
    "address",
    "change_reason",
    "change_date",
    "individual_number",  # 個人番号: the agency's alone, for affairs the law gives it to
)


class QueryKind(StrEnum):
    BY_CODE = "by_code"
    BY_FACTS = "by_facts"  # name + birth date + sex (+ address): 4情報検索
    BATCH = "batch"  # many codes: existence and current address checks
    # the changes of the residents a body registered (異動情報の提供): it names them by
    # resident code, so it is a by-code kind — never for a private-sector client. Each
    # change carries the grant's fields and, being a change, its reason and date (logged
    # among the fields provided)
    CHANGES = "changes"


BY_CODE_KINDS = frozenset({QueryKind.BY_CODE, QueryKind.BATCH, QueryKind.CHANGES})


class Sector(StrEnum):
    GOVERNMENT = "government"
    PRIVATE = "private"  # may never query by resident code (住基法第30条の42 ff.)


class ClientEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")
    organisation: str = Field(min_length=1, max_length=100)
    sector: Sector


class GrantEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    client: str
    affair: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,59}$", description="affair id")
    item: str = Field(min_length=1, max_length=200, description="Appended Table item")
    title: str = Field(min_length=1, max_length=200, description="the affair, in Japanese")
    legal_basis: str = Field(min_length=1, max_length=200)
    query_kinds: frozenset[QueryKind]
    fields: frozenset[str]
    valid_from: dt.date
    valid_until: dt.date
    daily_quota: int = Field(ge=1, le=100_000_000)

    @model_validator(mode="after")
    def _consistent(self) -> GrantEntry:
        unknown = self.fields - set(FIELDS)
        if unknown:
            raise ValueError(f"unknown fields: {sorted(unknown)}")
        if self.valid_until < self.valid_from:
            raise ValueError("valid_until is before valid_from")
        return self


class PermissionTable(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str = Field(min_length=1, max_length=40)
    tier: str = Field(pattern=r"^(agency|prefecture)$")
    clients: list[ClientEntry]
    grants: list[GrantEntry]

    @model_validator(mode="after")
    def _grants_name_known_clients(self) -> PermissionTable:
        ids = {c.id for c in self.clients}
        if len(ids) != len(self.clients):
            raise ValueError("duplicate client id")
        for grant in self.grants:
            if grant.client not in ids:
                raise ValueError(f"grant {grant.affair} names an unknown client")
        keys = [(g.client, g.affair) for g in self.grants]
        if len(set(keys)) != len(keys):
            raise ValueError("duplicate (client, affair) grant")
        if self.tier != "agency" and any("individual_number" in g.fields for g in self.grants):
            raise ValueError("individual_number is provided by the agency only")
        private = {c.id for c in self.clients if c.sector is Sector.PRIVATE}
        if any(g.client in private and g.query_kinds & BY_CODE_KINDS for g in self.grants):
            raise ValueError("a private-sector client may never query by resident code")
        return self


def load_table(path: Path) -> PermissionTable:
    with path.open("rb") as f:
        return PermissionTable.model_validate(tomllib.load(f))
