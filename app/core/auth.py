"""API keys: only their SHA-256 digests are configured; callers send `Authorization: Bearer <key>`.

A job belongs to the key (by name) that created it; with no keys configured the service is open
and every job belongs to `anonymous`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

ANONYMOUS = "anonymous"


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key(name: str) -> tuple[str, str]:
    """A new random key and its configuration entry `name:sha256hex`."""
    key = "wj_" + secrets.token_urlsafe(32)
    return key, f"{name}:{digest(key)}"


class KeyRing:
    def __init__(self, entries: list[str]) -> None:
        self._entries = [tuple(e.split(":", 1)) for e in entries]

    @property
    def is_open(self) -> bool:
        return not self._entries

    def identify(self, key: str) -> str | None:
        """The name of the key, or None. Compares against every entry in constant time."""
        candidate = digest(key)
        found = None
        for name, expected in self._entries:
            if hmac.compare_digest(candidate, expected):
                found = name
        return found
