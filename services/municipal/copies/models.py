"""The two ledgers of nationwide copies. Every municipality keeps both: it issues copies
of other towns' residents and answers for its own.

Neither holds a name, address or resident code. The issuing end keeps opaque ids and
counts; the home end keeps its own residents' opaque ids (so an auditor can tell whose
record went where) and who asked, why and with what result.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Index, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from jukinet.db.engine import UtcDateTime
from municipal.models import Base, Resident

__all__ = ["BY_BIRTH_AND_NAME", "CopyProvision", "IssuedCopy"]

# The home end finds a person by birth date and name as their ID states them; the
# register itself indexes only resident codes (created by migration 0006).
BY_BIRTH_AND_NAME = Index("ix_residents_birth_date_name", Resident.birth_date, Resident.name)


class IssuedCopy(Base):
    """A copy asked for at this counter (the issuing end), issued or not.

    ``id`` numbers the copies (交付番号); ``copy_id`` is the opaque id the operation log
    names. ``outcome`` is issued, refused (by the home municipality, ``reason`` its code)
    or failed (``reason``: unreachable, bad_answer, unprintable…).
    """

    __tablename__ = "issued_copies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    copy_id: Mapped[str] = mapped_column(String(32), unique=True)
    home_municipality: Mapped[str] = mapped_column(String(6))
    clerk: Mapped[str] = mapped_column(String(120))
    purpose: Mapped[str] = mapped_column(String(200))
    whole_household: Mapped[bool] = mapped_column(Boolean)
    include_resident_code: Mapped[bool] = mapped_column(Boolean)
    include_relation: Mapped[bool] = mapped_column(Boolean)
    # own-register copies only (a nationwide copy never prints 本籍; 前住所 always)
    include_registered_domicile: Mapped[bool] = mapped_column(
        Boolean, server_default=false(), default=False
    )
    include_previous_address: Mapped[bool] = mapped_column(
        Boolean, server_default=false(), default=False
    )
    include_individual_number: Mapped[bool] = mapped_column(  # own-register copies only
        Boolean, server_default=false(), default=False
    )
    outcome: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(32))
    request_message_id: Mapped[str | None] = mapped_column(String(32))
    provision_id: Mapped[str | None] = mapped_column(String(32))  # the home end's record
    people: Mapped[int] = mapped_column(Integer)  # entries printed
    requested_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), index=True)


class CopyProvision(Base):
    """A request from another municipality for a copy of a resident here (the home end).

    ``request_message_id`` is unique: a request is answered once, so a replayed envelope
    is refused. ``resident_ids`` is a JSON list of the opaque ids of the people provided.
    """

    __tablename__ = "copy_provisions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    request_message_id: Mapped[str] = mapped_column(String(32), unique=True)
    requester: Mapped[str] = mapped_column(String(6), index=True)
    clerk: Mapped[str] = mapped_column(String(120))
    purpose: Mapped[str] = mapped_column(String(200))
    whole_household: Mapped[bool] = mapped_column(Boolean)
    include_resident_code: Mapped[bool] = mapped_column(Boolean)
    include_relation: Mapped[bool] = mapped_column(Boolean)
    # own-register copies only (a nationwide copy never prints 本籍; 前住所 always)
    include_registered_domicile: Mapped[bool] = mapped_column(
        Boolean, server_default=false(), default=False
    )
    include_previous_address: Mapped[bool] = mapped_column(
        Boolean, server_default=false(), default=False
    )
    include_individual_number: Mapped[bool] = mapped_column(  # own-register copies only
        Boolean, server_default=false(), default=False
    )
    outcome: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(32))
    resident_ids: Mapped[str] = mapped_column(Text)
    requested_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), index=True)
