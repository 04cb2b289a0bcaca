"""A client for ministry systems and prefecture bodies calling a lookup server.

    from jukinet.client import LookupClient, LookupRefused

    with LookupClient("https://localhost:9100", cert="tls.crt", key="tls.key",
                      ca="ca.crt") as lookups:
        answer = lookups.by_code("pension-existence-check", "12345678903")

Typed answers (:class:`CodeAnswer`, :class:`FactsAnswer`, :class:`BatchAnswer`); a
refusal raises :class:`LookupRefused` with its machine-readable ``reason``, a request
the server finds invalid raises :class:`LookupInvalid` with each error's field and
message. Plain HTTPS with the caller's certificate: the server is verified by the
federation CA and its host name, as any TLS client does.
"""

from jukinet.client._lookups import (
    BatchAnswer,
    BatchItem,
    Change,
    ChangesPage,
    CodeAnswer,
    FactsAnswer,
    LookupClient,
    LookupError,
    LookupInvalid,
    LookupRefused,
)
from jukinet.contracts.residentcard import ResidentCard

__all__ = [
    "BatchAnswer",
    "BatchItem",
    "Change",
    "ChangesPage",
    "CodeAnswer",
    "FactsAnswer",
    "LookupClient",
    "LookupError",
    "LookupInvalid",
    "LookupRefused",
    "ResidentCard",
]
