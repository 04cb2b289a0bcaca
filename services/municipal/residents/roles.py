"""Which counter entries need a supervisor: the ex-officio ones (職権), made on the
office's own authority rather than on a resident's notification."""

from __future__ import annotations

from jukinet.contracts.identity import ChangeReason
from jukinet.node.problems import Forbidden
from jukinet.operators import Actor, roles_for

__all__ = ["EX_OFFICIO", "require_ex_officio_role"]

EX_OFFICIO = frozenset(
    {
        ChangeReason.EX_OFFICIO_RECORD,
        ChangeReason.EX_OFFICIO_DELETION,
        ChangeReason.EX_OFFICIO_CORRECTION,
    }
)


def require_ex_officio_role(actor: Actor, reason: ChangeReason) -> None:
    if reason in EX_OFFICIO and actor.role not in roles_for("residents.ex_officio"):
        raise Forbidden("an ex-officio entry needs a supervisor")
