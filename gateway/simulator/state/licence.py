"""Licence permits and system information (``/app/*`` besides the token)."""

from __future__ import annotations

import hashlib

from .errors import VendorError

__all__ = ["LicenceStore"]


class LicenceStore:
    """Applied licence certificates, the licensed user maximum and the opaque system info."""

    def __init__(self, max_users: int, seed: int | None) -> None:
        self.max_users = max_users
        self._permits: set[str] = set()
        # An opaque, stable hex blob shaped like the reference's sys_info (256 hex chars).
        digest = hashlib.sha256(f"vendor-simulator-{seed}".encode()).hexdigest()
        self.system_info = (digest * 4)[:256]

    def apply(self, licence_cert: str) -> None:
        """Install a certificate (again is harmless)."""
        self._permits.add(licence_cert)

    def delete(self, licence_cert: str) -> None:
        """Remove a certificate; 40072 when it was never applied."""
        if licence_cert not in self._permits:
            raise VendorError(40072, "no licence info")
        self._permits.discard(licence_cert)

    def snapshot(self) -> dict[str, int]:
        """Counts only (certificates are secrets of sorts)."""
        return {"permits": len(self._permits), "max_users": self.max_users}
