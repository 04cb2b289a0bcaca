"""The prefecture's copy of its municipalities' identity records, and its bus tables."""

from __future__ import annotations

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from jukinet.audit import checkpoint_table
from jukinet.bus import bus_tables
from jukinet.db import NAMING_CONVENTION
from jukinet.lookups import lookup_tables
from jukinet.operators import operator_tables
from jukinet.records import record_tables


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


bus = bus_tables(Base.metadata)
records = record_tables(Base.metadata)
lookups = lookup_tables(Base.metadata)
operators = operator_tables(Base.metadata)
checkpoints = checkpoint_table(Base.metadata)  # kept for the nodes this one witnesses
