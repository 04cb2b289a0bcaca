"""The national copy of identity records, the origins already applied, the national
resident-code registry, and bus tables."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import Index, MetaData, String, Table, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from jukinet.db.engine import NAMING_CONVENTION, UtcDateTime
from jukinet.lookups import watch_tables
from jukinet.tier.tables import tier_tables


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


tables = tier_tables(Base.metadata)
bus, records, lookups = tables.bus, tables.records, tables.lookups
watches = watch_tables(Base.metadata)  # change notifications (異動情報の提供)


class OriginMessage(Base):
    """Each municipal message applied here, with the prefecture that forwarded it: the
    agency's own proof of origin, and its de-duplication of forwarded changes."""

    __tablename__ = "origin_messages"

    message_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    municipality: Mapped[str] = mapped_column(String(6), index=True)
    forwarded_by: Mapped[str] = mapped_column(String(6))
    token: Mapped[str] = mapped_column(String)
    received_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class CodeStatus(StrEnum):
    DESIGNATED = "designated"
    RETIRED = "retired"


class CodeRegistryEntry(Base):
    """Every resident code the agency has designated or seen retired. The primary key is
    national uniqueness; a row is never deleted, so no code is ever designated twice."""

    __tablename__ = "code_registry"
    __table_args__ = (Index("ix_code_registry_municipality", "municipality", "status"),)

    code: Mapped[str] = mapped_column(String(11), primary_key=True)
    municipality: Mapped[str] = mapped_column(String(6))  # designated to, or retired by
    status: Mapped[str] = mapped_column(String(12))  # a CodeStatus
    designation_id: Mapped[str | None] = mapped_column(String(32))
    designated_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    retired_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())


class NumberStatus(StrEnum):
    ASSIGNED = "assigned"
    RETIRED = "retired"  # changed after a leak: never issued again


class IndividualNumberEntry(Base):
    """Every 個人番号 the agency has generated (番号法第8条). The primary key is national
    uniqueness; a row is never deleted, so no number is ever issued twice. At most one
    number per resident is assigned (the partial unique index); after a 住民票コード変更
    the row follows the person to the new code."""

    __tablename__ = "individual_numbers"
    __table_args__ = (
        Index(
            "ux_individual_numbers_assigned",
            "resident_code",
            unique=True,
            sqlite_where=text("status = 'assigned'"),
            postgresql_where=text("status = 'assigned'"),
        ),
    )

    number: Mapped[str] = mapped_column(String(12), primary_key=True)
    resident_code: Mapped[str] = mapped_column(String(11))
    municipality: Mapped[str] = mapped_column(String(6))  # that asked for it
    status: Mapped[str] = mapped_column(String(12))  # a NumberStatus
    assigned_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    retired_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())


numbers: Table = IndividualNumberEntry.__table__  # type: ignore[assignment]
