"""Roles, actions and the actor behind each request.

Separation of duties: clerks work the counter, supervisors also make ex-officio entries,
auditors read the operation log and nothing else, administrators manage operators and
the node but never see a resident. The node's machine token ("system") is for
operations tooling (bulk migration, reconciliation, monitoring) and is logged as such.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["ANONYMOUS", "SYSTEM", "Actor", "Role", "roles_for"]


class Role(StrEnum):
    CLERK = "clerk"
    SUPERVISOR = "supervisor"
    AUDITOR = "auditor"
    ADMINISTRATOR = "administrator"
    SYSTEM = "system"  # the node's machine token; never an operator's role
    ANONYMOUS = "anonymous"  # no valid credentials: logged, never allowed


@dataclass(frozen=True)
class Actor:
    """Who makes a request: an operator of this office, or the node's machine token."""

    name: str  # the operator's principal URI, or "system"
    role: Role
    operator: str | None = None  # the operator's slug

    @property
    def is_operator(self) -> bool:
        return self.operator is not None


SYSTEM = Actor("system", Role.SYSTEM)
ANONYMOUS = Actor("anonymous", Role.ANONYMOUS)

_COUNTER = {Role.CLERK, Role.SUPERVISOR}
_ROLES: dict[str, set[Role]] = {
    "residents.read": _COUNTER | {Role.SYSTEM},
    "residents.search": _COUNTER | {Role.SYSTEM},
    "residents.write": _COUNTER | {Role.SYSTEM},
    "residents.ex_officio": {Role.SUPERVISOR, Role.SYSTEM},
    "residents.bulk": {Role.ADMINISTRATOR, Role.SYSTEM},
    "copies.issue": set(_COUNTER),
    "disclosures": _COUNTER | {Role.SYSTEM},
    "records.read": _COUNTER | {Role.SYSTEM},
    "reconcile": {Role.ADMINISTRATOR, Role.SYSTEM},
    "outbox": {Role.ADMINISTRATOR, Role.SYSTEM},
    "lookups.admin": {Role.ADMINISTRATOR, Role.SYSTEM},
    "operations": {Role.ADMINISTRATOR, Role.AUDITOR, Role.SYSTEM},
    "operators.manage": {Role.ADMINISTRATOR},
    "audit.read": {Role.AUDITOR},
    "auth.session": {Role.CLERK, Role.SUPERVISOR, Role.AUDITOR, Role.ADMINISTRATOR},
}


def roles_for(action: str) -> frozenset[Role]:
    """The roles allowed to perform ``action`` (every guarded route names one)."""
    return frozenset(_ROLES[action])
