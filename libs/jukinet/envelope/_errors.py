"""Why an envelope was refused. One class per check, in the order ``open`` runs them.

Every error carries a stable ``code`` suitable for a dead-letter reason or a metric
label; messages name principals and message ids, never the payload.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jukinet.envelope._model import SignedMessage

__all__ = [
    "BadSignature",
    "DecryptionFailed",
    "EnvelopeError",
    "MalformedEnvelope",
    "MessageExpired",
    "MessageFromFuture",
    "OriginInvalid",
    "ReplayedMessage",
    "SequenceRegression",
    "SignerCertificateExpired",
    "SignerNotIssuer",
    "SignerRevoked",
    "UntrustedSigner",
    "WrongAudience",
]


class EnvelopeError(Exception):
    """``verified`` is set when the message itself is authentic (decrypted, signed by
    the issuer's certificate from the federation CA) and refused only for time: expired,
    from the future, or signed by a certificate revoked by the time the message was
    stored. Such a message still takes its place in its sender's sequence."""

    code = "envelope_error"

    def __init__(self, *args: object, verified: SignedMessage | None = None) -> None:
        super().__init__(*args)
        self.verified = verified


class DecryptionFailed(EnvelopeError):
    """Not encrypted to this node's key, or the ciphertext was altered."""

    code = "decryption_failed"


class MalformedEnvelope(EnvelopeError):
    """The structure, headers or claims are not what a jukinet envelope carries."""

    code = "malformed"


class UntrustedSigner(EnvelopeError):
    """The signing certificate does not chain to the federation CA."""

    code = "untrusted_signer"


class SignerCertificateExpired(EnvelopeError):
    code = "signer_certificate_expired"


class SignerRevoked(EnvelopeError):
    """Signed by a revoked certificate after its revocation."""

    code = "signer_revoked"


class BadSignature(EnvelopeError):
    """The signature does not verify with the signing certificate's key."""

    code = "bad_signature"


class SignerNotIssuer(EnvelopeError):
    """The certificate that signed is not the issuer's (or not a signing certificate)."""

    code = "signer_not_issuer"


class WrongAudience(EnvelopeError):
    code = "wrong_audience"


class MessageExpired(EnvelopeError):
    code = "message_expired"


class MessageFromFuture(EnvelopeError):
    code = "message_from_future"


class ReplayedMessage(EnvelopeError):
    code = "replayed"


class SequenceRegression(EnvelopeError):
    code = "sequence_regression"


class OriginInvalid(EnvelopeError):
    """A forwarded message's original signed change failed verification."""

    code = "origin_invalid"
