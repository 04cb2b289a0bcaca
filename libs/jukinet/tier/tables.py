"""The tables every tier node (a prefecture, the agency) declares on its metadata."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import MetaData, Table

from jukinet.audit import checkpoint_table
from jukinet.bus import BusTables, bus_tables
from jukinet.lookups import LookupTables, lookup_tables
from jukinet.operators import OperatorTables, operator_tables
from jukinet.records.store import RecordTables, record_tables

__all__ = ["TierTables", "tier_tables"]


@dataclass(frozen=True, slots=True)
class TierTables:
    bus: BusTables
    records: RecordTables
    lookups: LookupTables
    operators: OperatorTables
    checkpoints: Table  # kept for the nodes this one witnesses


def tier_tables(metadata: MetaData) -> TierTables:
    return TierTables(
        bus=bus_tables(metadata),
        records=record_tables(metadata),
        lookups=lookup_tables(metadata),
        operators=operator_tables(metadata),
        checkpoints=checkpoint_table(metadata),
    )
