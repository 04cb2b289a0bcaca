"""The message envelope: sign (JWS, Ed25519) then encrypt (JWE, ECDH-ES X25519 + A256GCM).

Nested JWS-in-JWE through joserfc, a maintained JOSE library: no home-made format.
"""

from jukinet.envelope._directory import RecipientDirectory, thumbprint
from jukinet.envelope._errors import (
    BadSignature,
    DecryptionFailed,
    EnvelopeError,
    MalformedEnvelope,
    MessageExpired,
    MessageFromFuture,
    OriginInvalid,
    ReplayedMessage,
    SequenceRegression,
    SignerCertificateExpired,
    SignerNotIssuer,
    SignerRevoked,
    UntrustedSigner,
    WrongAudience,
)
from jukinet.envelope._model import (
    FORWARD_TYPE,
    MemoryReplayGuard,
    ReplayGuard,
    SignedMessage,
    check_fresh,
    forward_item,
    new_message_id,
)
from jukinet.envelope._open import Opener, verify_signed
from jukinet.envelope._seal import Sealed, Sealer

__all__ = [
    "FORWARD_TYPE",
    "BadSignature",
    "DecryptionFailed",
    "EnvelopeError",
    "MalformedEnvelope",
    "MemoryReplayGuard",
    "MessageExpired",
    "MessageFromFuture",
    "Opener",
    "OriginInvalid",
    "RecipientDirectory",
    "ReplayGuard",
    "ReplayedMessage",
    "Sealed",
    "Sealer",
    "SequenceRegression",
    "SignedMessage",
    "SignerCertificateExpired",
    "SignerNotIssuer",
    "SignerRevoked",
    "UntrustedSigner",
    "WrongAudience",
    "check_fresh",
    "forward_item",
    "new_message_id",
    "thumbprint",
    "verify_signed",
]
