"""What the nodes above the towns share — a prefecture and the agency both hold identity
records forwarded to them and serve lookups from them: their tables, their service and
the lookup server's entry point.
Their shared migration bodies live with the tables' owners (``jukinet.bus.migrations``,
``jukinet.records.migrations``, ``jukinet.lookups.migrations``)."""

from jukinet.tier.lookup_server import LookupServer
from jukinet.tier.service import TierService
from jukinet.tier.tables import TierTables, tier_tables

__all__ = ["LookupServer", "TierService", "TierTables", "tier_tables"]
