"""joserfc registries fixed to jukinet's algorithms and size limits.

The library's defaults (a 512-byte JWS header, a 64 KiB JWE ciphertext) are for web
tokens; an envelope carries its signing certificate in ``x5c`` and bulk messages carry
many identity records, so the limits are raised to the envelope's own bound.
"""

from __future__ import annotations

from joserfc.jwe import JWERegistry
from joserfc.jws import JWSRegistry

__all__ = ["JWE_REGISTRY", "JWS_REGISTRY", "MAX_TOKEN_BYTES"]

MAX_TOKEN_BYTES = 8 * 1024 * 1024


class _EnvelopeJWSRegistry(JWSRegistry):
    max_header_length = 4096
    max_payload_length = MAX_TOKEN_BYTES


class _EnvelopeJWERegistry(JWERegistry):
    max_ciphertext_length = MAX_TOKEN_BYTES


JWS_REGISTRY = _EnvelopeJWSRegistry(algorithms=["Ed25519"])
JWE_REGISTRY = _EnvelopeJWERegistry(algorithms=["ECDH-ES", "A256GCM"])
