"""The national copy of identity records, the origins already applied, the national
resident-code registry, and bus tables."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import Index, MetaData, String
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
