"""Verify whisper-jobs webhooks in a receiver (Standard Webhooks signatures).

    verifier = WebhookVerifier(os.environ["WHISPER_JOBS_WEBHOOK_SECRET"])
    event = verifier.verify(request_body, request_headers)  # raises WebhookVerificationError

Dedupe on `event["data"]["id"]` or the `webhook-id` header: a retried or redelivered event
keeps its id.
"""

from __future__ import annotations

import binascii
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

from whisper_jobs_client._errors import WebhookVerificationError
from whisper_jobs_client.signing import secret_key, signature

#: How far a `webhook-timestamp` may be from now (replay protection), as the spec suggests.
DEFAULT_TOLERANCE_SECONDS = 300


class WebhookVerifier:
    """Checks `webhook-signature` against one or more secrets (several during a rotation)."""

    def __init__(self, *secrets: str, tolerance: float = DEFAULT_TOLERANCE_SECONDS) -> None:
        if not secrets:
            raise ValueError("at least one secret is needed")
        try:
            self._keys = [secret_key(s) for s in secrets]
        except binascii.Error as e:
            raise ValueError("a secret is `whsec_` followed by base64") from e
        self.tolerance = tolerance

    def verify(self, body: bytes | str, headers: Mapping[str, str]) -> dict[str, Any]:
        """The event, parsed, if the request is authentic and fresh."""
        lowered = {k.lower(): v for k, v in headers.items()}
        try:
            msg_id = lowered["webhook-id"]
            timestamp = int(lowered["webhook-timestamp"])
            signatures = lowered["webhook-signature"].split()
        except (KeyError, ValueError) as e:
            raise WebhookVerificationError("missing or malformed webhook headers") from e
        if abs(time.time() - timestamp) > self.tolerance:
            raise WebhookVerificationError("timestamp outside the tolerance (a replay?)")
        raw = body.encode() if isinstance(body, str) else body
        expected = [signature(key, msg_id, timestamp, raw) for key in self._keys]
        for sent in signatures:
            version, _, value = sent.partition(",")
            if version == "v1" and any(hmac.compare_digest(value, e) for e in expected):
                event: dict[str, Any] = json.loads(raw)
                return event
        raise WebhookVerificationError("no signature matches")
