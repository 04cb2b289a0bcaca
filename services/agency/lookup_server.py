"""The agency's lookup server: HTTPS with client certificates, beside the agency service.

Run as ``python -m agency.lookup_server`` (`jukinet up` starts it).
"""

from __future__ import annotations

from agency.models import lookups, numbers, records, watches
from agency.settings import AgencySettings
from jukinet.tier import LookupServer

server = LookupServer(
    AgencySettings, records, lookups, "agency.lookup_server:create_app", watches=watches,
    numbers=numbers,
)  # fmt: skip
create_app = server.create_app
main = server.main

if __name__ == "__main__":
    main()
