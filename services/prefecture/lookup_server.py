"""The prefecture's lookup server: HTTPS with client certificates, beside the prefecture service.

Run as ``python -m prefecture.lookup_server`` (`jukinet up` starts it).
"""

from __future__ import annotations

from jukinet.tier import LookupServer
from prefecture.models import lookups, records
from prefecture.settings import PrefectureSettings

server = LookupServer(PrefectureSettings, records, lookups, "prefecture.lookup_server:create_app")
create_app = server.create_app
main = server.main

if __name__ == "__main__":
    main()
