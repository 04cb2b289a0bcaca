"""The ASGI TLS extension for uvicorn: hand the verified client certificate to the app.

uvicorn verifies client certificates (``ssl_cert_reqs``) but does not put them in the
ASGI scope. This protocol subclass adds ``scope["extensions"]["tls"]`` in the shape of
the ASGI TLS extension (``client_cert_chain`` as PEM strings, ``tls_version``), taken
from the connection's own SSL object — never from a request header.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping, MutableMapping
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["TLS_EXTENSION", "TlsClientCertProtocol", "client_certificate_pem"]

TLS_EXTENSION = "tls"
Scope = MutableMapping[str, Any]


class _WithTls:
    """Wraps the app for one connection, adding that connection's TLS facts to each scope."""

    def __init__(self, app: Any, info: dict[str, Any]) -> None:
        self._app = app
        self._info = info

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            extensions = {**scope.get("extensions", {}), TLS_EXTENSION: self._info}
            scope = {**scope, "extensions": extensions}
        await self._app(scope, receive, send)


class TlsClientCertProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, plus the ASGI TLS extension."""

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        if not isinstance(ssl_object, ssl.SSLObject | ssl.SSLSocket):
            return
        der = ssl_object.getpeercert(binary_form=True)
        info = {
            "client_cert_chain": [ssl.DER_cert_to_PEM_cert(der)] if der else [],
            "client_cert_error": None,
            "tls_version": ssl_object.version(),
            "cipher_suite": (ssl_object.cipher() or ("",))[0],
        }
        self.app = _WithTls(self.app, info)


def client_certificate_pem(scope: Mapping[str, Any]) -> str | None:
    """The verified client certificate of this request, if the connection had one."""
    tls = scope.get("extensions", {}).get(TLS_EXTENSION)
    if not isinstance(tls, dict):
        return None
    chain = tls.get("client_cert_chain") or []
    return chain[0] if chain else None
