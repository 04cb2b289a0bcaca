"""The prefecture's copy of its municipalities' identity records, the resident codes
designated to them, and its bus tables."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from jukinet.db.engine import NAMING_CONVENTION, UtcDateTime
from jukinet.tier.tables import tier_tables


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


tables = tier_tables(Base.metadata)
bus, records, lookups = tables.bus, tables.records, tables.lookups


class CodeDesignation(Base):
    """A resident code designated to one of this prefecture's municipalities, as learned
    from the agency's signed designation (passed on by the town) or from a migrated
    register's claim. A change recording a code new here must find it here."""

    __tablename__ = "code_designations"
    __table_args__ = (Index("ix_code_designations_municipality", "municipality"),)

    code: Mapped[str] = mapped_column(String(11), primary_key=True)
    municipality: Mapped[str] = mapped_column(String(6))
    source: Mapped[str] = mapped_column(String(12))  # pool | migrated
    recorded_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
