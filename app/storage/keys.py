"""The Redis key layout of the job store; only `app.storage.store` reads and writes these keys.

Layout (all under `whisper-jobs:`):
- `job:{id}`         the Job as JSON, without its result (small: polled often);
- `job:{id}:result`  the TranscriptResult as JSON (large: read only when asked for);
- `job:{id}:segments` segments decoded so far by a running job (replayed to late SSE clients);
- `job:{id}:events`   the pub/sub channel of a job's progress, segment and final events;
- `job:{id}:lease`    set (with a short TTL) while a live worker runs the job;
- `job:{id}:webhook-claim`  set (with a TTL) while one delivery of the job's event is in flight;
- `active`           a set of the ids that are not yet in a terminal status;
- `owner:{name}:jobs` / `owner:{name}:active`  one caller's jobs (by creation time) / unfinished;
- `idempotency:{owner}:{key}`  the job an `Idempotency-Key` created, and the request's fingerprint;
- `webhook-inflight:receiver:{origin}` / `webhook-inflight:owner:{name}`  the jobs whose webhook
                     attempt is in flight to one receiver / for one key (`webhook_slots`);
- `webhooks:due`     a sorted set of job ids by the time their webhook event is next due;
- `workers`          a hash of live workers' heartbeats and queues (`app.storage.liveness`);
- `stats:*`          the metrics' counters and histograms (`app.storage.stats`).
"""

from __future__ import annotations

import json
from typing import Any

PREFIX = "whisper-jobs:"
ACTIVE_KEY = f"{PREFIX}active"


def key_for(job_id: str) -> str:
    return f"{PREFIX}job:{job_id}"


def result_key_for(job_id: str) -> str:
    return f"{PREFIX}job:{job_id}:result"


def segments_key_for(job_id: str) -> str:
    return f"{PREFIX}job:{job_id}:segments"


def events_channel_for(job_id: str) -> str:
    return f"{PREFIX}job:{job_id}:events"


def lease_key_for(job_id: str) -> str:
    return f"{PREFIX}job:{job_id}:lease"


def owner_jobs_key(owner: str) -> str:
    return f"{PREFIX}owner:{owner}:jobs"


def owner_active_key(owner: str) -> str:
    return f"{PREFIX}owner:{owner}:active"


def webhook_claim_key_for(job_id: str) -> str:
    return f"{PREFIX}job:{job_id}:webhook-claim"


def webhook_inflight_key(kind: str, name: str) -> str:
    return f"{PREFIX}webhook-inflight:{kind}:{name}"


def idempotency_key_for(owner: str, key: str) -> str:
    return f"{PREFIX}idempotency:{owner}:{key}"


IDEMPOTENCY_TTL_SECONDS = 24 * 3600
WEBHOOKS_DUE_KEY = f"{PREFIX}webhooks:due"
WORKERS_KEY = f"{PREFIX}workers"


def event(kind: str, **data: Any) -> str:
    return json.dumps({"type": kind, **data}, default=str)
