"""The federation description: the file (``deploy/federation.toml``) that lists what a
deployment runs — prefectures, municipalities with the name and mayor their certificates
print, the ministries that query — and where it publishes them. Everything else in the
deployment (compose file, broker configuration, secrets, credentials) is derived from it,
so 1,741 municipalities are data, not hand edits."""

from __future__ import annotations

import tomllib
from collections import Counter
from functools import cached_property
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from jukinet.contracts.federation import Federation
from jukinet.contracts.ids import InvalidCode, parse_local_government_code
from jukinet.contracts.principals import AGENCY, InvalidPrincipal, Principal, PrincipalKind

__all__ = ["BadDescription", "Deployment", "Town", "dump_description", "load_description"]

Port = Annotated[int, Field(ge=1024, le=65535)]


class BadDescription(ValueError):
    """The federation description cannot be used; the message says where and why."""


class Town(BaseModel):
    """A municipality of the deployment and what its certificates print."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(description="local government code with check digit, e.g. 142034")
    name: str = Field(min_length=1, max_length=20, description="as printed, e.g. 平塚市")
    mayor: str = Field(min_length=1, max_length=60, description="title and name, as signed")


class Deployment(BaseModel):
    """What a deployment runs. Ports are handed out in the order of the file: the agency,
    then the prefectures, then the municipalities — so a town added at the end keeps
    every other node's port."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prefectures: tuple[str, ...] = Field(min_length=1)
    municipalities: tuple[Town, ...] = ()
    ministries: tuple[str, ...] = ()
    http_port: Port = Field(8100, description="first node API port published on 127.0.0.1")
    lookup_port: Port = Field(9100, description="first lookup server port (127.0.0.1)")
    lookup_hosts: tuple[str, ...] = Field(
        ("localhost", "127.0.0.1"),
        min_length=1,
        description="names and addresses clients reach the lookup servers at",
    )
    cert_days: int = Field(7, ge=1, le=90, description="validity of renewed certificates")
    renew_within_days: float = Field(3.0, gt=0, description="renew what expires this soon")

    @model_validator(mode="after")
    def _consistent(self) -> Deployment:
        problems = [*self._code_problems(), *self._port_problems()]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _code_problems(self) -> list[str]:
        problems = []
        for code in self.prefectures:
            try:
                Principal.prefecture(code)
            except (InvalidPrincipal, InvalidCode) as exc:
                problems.append(f"prefecture {code!r}: {exc}")
        for town in self.municipalities:
            try:
                parsed = parse_local_government_code(town.code)
                Principal.municipality(town.code)
            except (InvalidPrincipal, InvalidCode) as exc:
                problems.append(f"municipality {town.code!r}: {exc}")
                continue
            if parsed.prefecture.code not in self.prefectures:
                problems.append(
                    f"municipality {town.code}: its prefecture {parsed.prefecture.code} "
                    "is not in the description"
                )
        codes = Counter([*self.prefectures, *(t.code for t in self.municipalities)])
        problems += [f"{code} is listed {n} times" for code, n in codes.items() if n > 1]
        for ministry in self.ministries:
            try:
                Principal(PrincipalKind.MINISTRY, ministry)
            except InvalidPrincipal as exc:
                problems.append(f"ministry {ministry!r}: {exc}")
        return problems

    def _port_problems(self) -> list[str]:
        nodes = 1 + len(self.prefectures) + len(self.municipalities)
        http = range(self.http_port, self.http_port + nodes)
        lookups = range(self.lookup_port, self.lookup_port + 1 + len(self.prefectures))
        problems = []
        if http.stop - 1 > 65535:
            problems.append(f"{nodes} nodes from http_port {self.http_port} pass 65535")
        if lookups.stop - 1 > 65535:
            problems.append(f"lookup ports from {self.lookup_port} pass 65535")
        if http.start < lookups.stop and lookups.start < http.stop:
            problems.append(
                f"node ports {http.start}-{http.stop - 1} overlap lookup ports "
                f"{lookups.start}-{lookups.stop - 1}: move http_port or lookup_port"
            )
        reserved = {4222, 6222, 8222} & (set(http) | set(lookups))
        problems += [f"port {p} is the broker's" for p in sorted(reserved)]
        return problems

    @cached_property
    def federation(self) -> Federation:
        return Federation(
            prefectures=self.prefectures,
            municipalities=tuple(t.code for t in self.municipalities),
            ministries=self.ministries,
        )

    @property
    def serving(self) -> list[Principal]:
        """The nodes that run a lookup server: the agency and the prefectures."""
        return [AGENCY, *(Principal.prefecture(code) for code in self.prefectures)]

    def http_ports(self) -> dict[Principal, int]:
        return {node: self.http_port + i for i, node in enumerate(self.federation.nodes)}

    def lookup_ports(self) -> dict[Principal, int]:
        return {node: self.lookup_port + i for i, node in enumerate(self.serving)}

    def town(self, code: str) -> Town:
        return next(t for t in self.municipalities if t.code == code)

    def with_town(self, town: Town) -> Deployment:
        """This deployment with one more municipality, at the end (no port moves)."""
        data = self.model_dump()
        data["municipalities"] = [*data["municipalities"], town.model_dump()]
        return _validated(data, "the new municipality")


def _validated(data: object, where: str) -> Deployment:
    try:
        return Deployment.model_validate(data)
    except ValidationError as exc:
        reasons = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'file'}: {e['msg']}" for e in exc.errors()
        )
        raise BadDescription(f"{where}: {reasons}") from None


def load_description(path: Path) -> Deployment:
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise BadDescription(f"{path}: no such file") from None
    except tomllib.TOMLDecodeError as exc:
        raise BadDescription(f"{path}: not valid TOML ({exc})") from None
    return _validated(data, str(path))


HEADER = """\
# The federation this deployment runs. Everything else in deploy/ is generated from it:
#   .venv/bin/jukinet deploy render              compose.yaml, broker/, secrets/, pki/
#   .venv/bin/jukinet deploy add-municipality    one more town (appended; no port moves)
# Ports are handed out in this file's order: the agency, the prefectures, the
# municipalities (node APIs from http_port), the agency and prefectures (lookup servers
# from lookup_port), all published on 127.0.0.1 only.
"""


def _toml_str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _toml_list(values: tuple[str, ...], indent: str = "    ") -> str:
    if not values:
        return "[]"
    return "[\n" + "".join(f"{indent}{_toml_str(v)},\n" for v in values) + "]"


def dump_description(deployment: Deployment) -> str:
    """The description as TOML, in the layout `deploy add-municipality` keeps."""
    d = deployment
    lines = [
        HEADER,
        f"http_port = {d.http_port}",
        f"lookup_port = {d.lookup_port}",
        f"lookup_hosts = [{', '.join(_toml_str(h) for h in d.lookup_hosts)}]",
        f"cert_days = {d.cert_days}",
        f"renew_within_days = {d.renew_within_days:g}",
        "",
        f"prefectures = {_toml_list(d.prefectures)}",
        "",
        "# lookup clients, by the permission tables of the agency and the prefectures",
        f"ministries = {_toml_list(d.ministries)}",
    ]
    for town in d.municipalities:
        lines += [
            "",
            "[[municipalities]]",
            f"code = {_toml_str(town.code)}",
            f"name = {_toml_str(town.name)}",
            f"mayor = {_toml_str(town.mayor)}",
        ]
    return "\n".join(lines) + "\n"
