"""The prefecture's copy of its municipalities' identity records, the resident codes
designated to them, and its bus tables."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from jukinet.audit import checkpoint_table
from jukinet.bus import bus_tables
from jukinet.db.engine import NAMING_CONVENTION, UtcDateTime
from jukinet.lookups import lookup_tables
from jukinet.operators import operator_tables
from jukinet.records.store import record_tables


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


bus = bus_tables(Base.metadata)
records = record_tables(Base.metadata)
lookups = lookup_tables(Base.metadata)
operators = operator_tables(Base.metadata)
checkpoints = checkpoint_table(Base.metadata)  # kept for the nodes this one witnesses


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
