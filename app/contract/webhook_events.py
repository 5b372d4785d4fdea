"""Webhook events and their signatures, per the Standard Webhooks specification.

Headers: `webhook-id` (stable across retries and redeliveries of the same event),
`webhook-timestamp` (Unix seconds) and `webhook-signature: v1,<base64 HMAC-SHA256 of
"{id}.{timestamp}.{body}">` — one signature per configured secret, space-separated, so receivers
keep verifying through a key rotation. Secrets are `whsec_` + base64, as the specification defines.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from whisper_jobs_client.signing import secret_key, signature

from app.contract.jobs import Job, JobStatus

EVENT_TYPES = {
    JobStatus.COMPLETED: "job.completed",
    JobStatus.FAILED: "job.failed",
    JobStatus.CANCELED: "job.canceled",
}


def event_id(job: Job) -> str:
    return f"msg_{job.id}"


def build_event(job: Job, timestamp: datetime, include_result: bool) -> dict[str, Any]:
    """A thin payload; the full result only when the caller asked for it."""
    data: dict[str, Any] = {
        "id": job.id,
        "status": job.status.value,
        "error": job.error.model_dump() if job.error else None,
        "metadata": job.metadata,
        "links": {"self": f"/v1/jobs/{job.id}", "transcript": f"/v1/jobs/{job.id}/transcript"},
    }
    if include_result and job.result is not None:
        data["result"] = job.result.model_dump(mode="json")
    return {"type": EVENT_TYPES[job.status], "timestamp": timestamp.isoformat(), "data": data}


def signed_headers(
    msg_id: str, timestamp: datetime, body: str, secrets: list[str]
) -> dict[str, str]:
    seconds = int(timestamp.timestamp())
    signatures = ["v1," + signature(secret_key(s), msg_id, seconds, body.encode()) for s in secrets]
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(seconds),
        "webhook-signature": " ".join(signatures),
        "content-type": "application/json",
    }


def encode(event: dict[str, Any]) -> str:
    return json.dumps(event, separators=(",", ":"))
