"""Lookups under the law's permission table, with a hash-chained provision log,
disclosure to residents and suspicious-pattern monitoring. Served by the agency (Appended
Table 1) and by prefectures (Tables 5 and 6) over HTTPS with client certificates."""

from jukinet.lookups._admin import lookup_admin_router
from jukinet.lookups._api import LookupContext, lookup_router
from jukinet.lookups._authorize import Refused, authorize
from jukinet.lookups._chain import (
    ChainReport,
    Provision,
    anchor_bytes,
    append,
    operator_read_logger,
    purge_before,
    verify_chain,
)
from jukinet.lookups._disclosure import (
    DISCLOSURE_REQUEST,
    DISCLOSURE_REQUEST_BATCH,
    DISCLOSURE_RESPONSE,
    DISCLOSURE_RESPONSE_BATCH,
    DisclosureResponse,
    answer_disclosures,
)
from jukinet.lookups._ledger import ProvisionLedger
from jukinet.lookups._load import load_permissions, permissions_in_force
from jukinet.lookups._monitor import MonitorRules, observe, reinstate
from jukinet.lookups._server import (
    LookupSettings,
    create_lookup_app,
    load_table_at_start,
    serve_lookups,
)
from jukinet.lookups._store import (
    LookupTables,
    append_only_sql,
    drop_append_only_sql,
    lookup_tables,
)
from jukinet.lookups._table import FIELDS, PermissionTable, QueryKind, Sector, load_table
from jukinet.lookups._watch import WatchTables, fan_out, watch_tables

__all__ = [
    "DISCLOSURE_REQUEST",
    "DISCLOSURE_REQUEST_BATCH",
    "DISCLOSURE_RESPONSE",
    "DISCLOSURE_RESPONSE_BATCH",
    "FIELDS",
    "ChainReport",
    "DisclosureResponse",
    "LookupContext",
    "LookupSettings",
    "LookupTables",
    "MonitorRules",
    "PermissionTable",
    "Provision",
    "ProvisionLedger",
    "QueryKind",
    "Refused",
    "Sector",
    "WatchTables",
    "anchor_bytes",
    "answer_disclosures",
    "append",
    "append_only_sql",
    "authorize",
    "create_lookup_app",
    "drop_append_only_sql",
    "fan_out",
    "load_permissions",
    "load_table",
    "load_table_at_start",
    "lookup_admin_router",
    "lookup_router",
    "lookup_tables",
    "observe",
    "operator_read_logger",
    "permissions_in_force",
    "purge_before",
    "reinstate",
    "serve_lookups",
    "verify_chain",
    "watch_tables",
]
