"""Standard Webhooks signatures: the HMAC both sides compute. The server signs its webhook
events with it and `WebhookVerifier` checks them, so the two cannot disagree. Public because
the server imports it; it needs nothing but the standard library.

A secret is `whsec_` + base64; a signature is the base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac


def secret_key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix("whsec_"))


def signature(key: bytes, msg_id: str, seconds: int, body: bytes) -> str:
    """The base64 HMAC-SHA256 of `{id}.{timestamp}.{body}` (without the `v1,` prefix)."""
    content = f"{msg_id}.{seconds}.".encode() + body
    return base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()
