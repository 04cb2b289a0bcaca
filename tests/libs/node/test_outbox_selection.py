"""An operator's outbox selection names a recipient as a principal URI: anything else —
a NUL the database cannot even store, found by the operator-API fuzz on PostgreSQL — is
a 422 at the edge, never a 500 from the database."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from jukinet.node.outbox import OutboxSelection


def test_a_recipient_is_a_principal_uri() -> None:
    assert OutboxSelection(recipient="spiffe://jukinet/municipality/011002").recipient
    for bad in ("\x00\udad5p\x0b", "municipality/011002", "spiffe://jukinet/Municipality/1 2"):
        with pytest.raises(ValidationError, match="recipient"):
            OutboxSelection(recipient=bad)
