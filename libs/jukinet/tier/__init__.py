"""What the nodes above the towns share — a prefecture and the agency both hold identity
records forwarded to them and serve lookups from them: the lookup server's entry point.
Their shared migration bodies live with the tables' owners (``jukinet.bus.migrations``,
``jukinet.records.migrations``, ``jukinet.lookups.migrations``)."""

from jukinet.tier.lookup_server import LookupServer

__all__ = ["LookupServer"]
