"""Revoked certificates: a file of SHA-256 fingerprints with the moment of revocation.

A receiver refuses anything signed by a revoked certificate at or after that moment;
what it signed before stays valid (so a rotation loses no message in flight). The broker
refuses revoked TLS certificates through its pinned list (see jukinet.broker).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes

__all__ = ["RevocationList", "fingerprint", "revoke"]


def fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


def revoke(path: Path, certs: list[x509.Certificate], at: dt.datetime) -> None:
    """Add certificates to the list (atomically replacing the file)."""
    current = _read(path)
    current.update({fingerprint(c): at.isoformat() for c in certs})
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(current, indent=1, sort_keys=True))
    os.replace(tmp, path)


def _read(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    return {str(k): str(v) for k, v in data.items()}


class RevocationList:
    """Reads the list again whenever the file changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int, int] | None = None
        self._revoked: dict[str, dt.datetime] = {}

    def revoked_at(self, cert: x509.Certificate) -> dt.datetime | None:
        return self.revoked_at_fingerprint(fingerprint(cert))

    def revoked_at_fingerprint(self, digest: str) -> dt.datetime | None:
        """When the certificate with this SHA-256 fingerprint (hex) was revoked, if it was."""
        self._refresh()
        return self._revoked.get(digest) if self._revoked else None

    def _refresh(self) -> None:
        """One stat per check. The stamp includes the inode: ``revoke`` replaces the file,
        so two rotations within one timestamp tick are still told apart."""
        try:
            st = self.path.stat()
            stamp = (st.st_mtime_ns, st.st_ino, st.st_size)
        except FileNotFoundError:
            self._stamp, self._revoked = None, {}
            return
        if stamp != self._stamp:
            self._revoked = {k: dt.datetime.fromisoformat(v) for k, v in _read(self.path).items()}
            self._stamp = stamp
