"""Kombu's private Redis layout, read to answer what Celery's API cannot: which jobs still have
a transcription message (waiting in a queue, or taken and not yet acknowledged), how deep each
queue is, and where a job waits in its queue; and written once: a new job's message, pushed in
the transaction that creates the job (`redis_envelope`), so a submission is one round trip to
Redis instead of kombu's several (and a job is never stored without its message, or queued
without its record).

Everything here depends on how kombu's Redis transport stores messages (lists per queue and
priority, an `unacked` hash, JSON envelopes whose headers carry the task and its `argsrepr`);
it lives in this one module so that a kombu upgrade that changes it is fixed in one place.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.contract.jobs import JOB_ID_PATTERN, TRANSCRIBE_QUEUE, TRANSCRIBE_TASK

if TYPE_CHECKING:
    from redis import Redis


@dataclass(frozen=True)
class QueuedMessage:
    """A message as kombu's Redis transport keeps it: `payload` is pushed on the list `queue`."""

    queue: str
    payload: str


def redis_envelope(
    queue: str,
    body: str,
    content_type: str,
    content_encoding: str,
    headers: dict[str, Any],
    properties: dict[str, Any],
) -> QueuedMessage:
    """What kombu's Redis transport pushes for a message published straight to `queue` (the
    default exchange, priority 0, persistent): its envelope, body in base64."""
    envelope = {
        "body": base64.b64encode(body.encode()).decode(),
        "content-encoding": content_encoding,
        "content-type": content_type,
        "headers": headers,
        "properties": {
            **properties,
            "delivery_mode": 2,
            "delivery_info": {"exchange": "", "routing_key": queue},
            "priority": 0,
            "body_encoding": "base64",
            "delivery_tag": str(uuid.uuid4()),
        },
    }
    return QueuedMessage(queue, json.dumps(envelope))


# Kombu's Redis transport keeps unacknowledged messages (taken by a worker, not yet acked) here.
_UNACKED_KEY = "unacked"


def _job_ids_in(message: bytes | str) -> set[str]:
    try:
        decoded = json.loads(message)
    except ValueError:
        return set()
    if isinstance(decoded, list):  # unacked entries are [message, exchange, routing_key]
        decoded = decoded[0]
    headers = decoded.get("headers", {}) if isinstance(decoded, dict) else {}
    if headers.get("task") != TRANSCRIBE_TASK:
        return set()
    return set(JOB_ID_PATTERN.findall(str(headers.get("argsrepr", ""))))


def pending_job_ids(redis: Redis) -> set[str]:
    """Job ids that have a transcription message in Redis: waiting in a queue, or taken by a
    worker and not yet acknowledged. A queued job missing here has lost its message."""
    ids: set[str] = set()
    for key in redis.scan_iter(match=f"{TRANSCRIBE_QUEUE}.*", count=100):
        if redis.type(key) in (b"list", "list"):
            for message in redis.lrange(key, 0, -1):
                ids |= _job_ids_in(message)
    for message in redis.hvals(_UNACKED_KEY):
        ids |= _job_ids_in(message)
    return ids


# kombu's Redis transport keeps a queue's messages of priority p > 0 in `{queue}\x06\x16{p}`.
_PRIORITY_SEPARATOR, _PRIORITY_STEPS = "\x06\x16", (3, 6, 9)


def queue_depths(redis: Redis, queues: list[str]) -> dict[str, int]:
    """Messages waiting in each queue (taken but unacknowledged ones are not counted)."""
    with redis.pipeline(transaction=False) as pipe:
        for queue in queues:
            pipe.llen(queue)
            for step in _PRIORITY_STEPS:
                pipe.llen(f"{queue}{_PRIORITY_SEPARATOR}{step}")
        lengths = pipe.execute()
    per_queue = 1 + len(_PRIORITY_STEPS)
    return {
        queue: sum(lengths[i * per_queue : (i + 1) * per_queue]) for i, queue in enumerate(queues)
    }


MAX_POSITION_SCAN = 1000


def queue_position(redis: Redis, queue: str, job_id: str) -> int | None:
    """The job's place in its queue (1: the next one a worker takes), or None when its message
    is not waiting there (taken already, or beyond the first `MAX_POSITION_SCAN`). Kombu pushes
    on the left and workers take from the right, so the right end is next."""
    messages = redis.lrange(queue, -MAX_POSITION_SCAN, -1)
    for distance, message in enumerate(reversed(messages), start=1):
        if job_id in _job_ids_in(message):
            return distance
    return None
