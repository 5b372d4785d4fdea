"""The receiver-side verifier against our own signer and the Standard Webhooks reference."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook
from whisper_jobs_client import WebhookVerificationError, WebhookVerifier

from app.contract.webhook_events import signed_headers

OLD = "whsec_" + base64.b64encode(b"o" * 32).decode()
NEW = "whsec_" + base64.b64encode(b"n" * 32).decode()
BODY = json.dumps({"type": "job.completed", "data": {"id": "j1", "status": "completed"}})


def test_verifies_what_the_service_signs_and_returns_the_event() -> None:
    headers = signed_headers("msg_j1", datetime.now(UTC), BODY, [NEW])
    assert WebhookVerifier(NEW).verify(BODY.encode(), headers) == json.loads(BODY)


def test_agrees_with_the_reference_implementation() -> None:
    now = datetime.now(UTC)
    signature = Webhook(NEW).sign("msg_x", now, BODY)
    headers = {
        "Webhook-Id": "msg_x",
        "Webhook-Timestamp": str(int(now.timestamp())),
        "Webhook-Signature": signature,
    }
    assert WebhookVerifier(NEW).verify(BODY, headers)["data"]["id"] == "j1"


def test_a_rotation_verifies_with_either_secret() -> None:
    headers = signed_headers("msg_j1", datetime.now(UTC), BODY, [NEW, OLD])
    assert WebhookVerifier(OLD).verify(BODY, headers)
    assert WebhookVerifier(NEW).verify(BODY, headers)


@pytest.mark.parametrize(
    ("body", "when", "secret", "reason"),
    [
        (BODY.replace("completed", "failed"), timedelta(0), NEW, "no signature matches"),
        (BODY, timedelta(0), OLD, "no signature matches"),
        (BODY, timedelta(minutes=-6), NEW, "timestamp outside"),
        (BODY, timedelta(minutes=6), NEW, "timestamp outside"),
    ],
)
def test_refuses_tampering_wrong_secrets_and_replays(
    body: str, when: timedelta, secret: str, reason: str
) -> None:
    headers = signed_headers("msg_j1", datetime.now(UTC) + when, BODY, [NEW])
    with pytest.raises(WebhookVerificationError, match=reason):
        WebhookVerifier(secret).verify(body, headers)


def test_refuses_missing_headers() -> None:
    with pytest.raises(WebhookVerificationError, match="missing"):
        WebhookVerifier(NEW).verify(BODY, {"webhook-id": "msg_j1"})
