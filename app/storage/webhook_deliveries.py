"""The webhook side of the job store: each finished job's delivery state, the due set that
keeps retries in Redis (not in queue countdowns), and the claim that lets one delivery of an
event be in flight at a time. A part of `JobStore` (its base class), kept apart for size."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from app.contract.jobs import Job
from app.storage import stats
from app.storage.keys import WEBHOOKS_DUE_KEY, key_for, webhook_claim_key_for

if TYPE_CHECKING:
    from redis import Redis
    from redis.client import Pipeline


class WebhookSchedule:
    redis: Redis

    def record_webhook_attempt(
        self, job_id: str, change: Callable[[Job], str | None]
    ) -> Job | None:
        """Update a finished job's webhook state (its TTL kept) and its place in the due set.
        `change` returns the attempt's outcome to count (`delivered`, `retry`, `gave_up`)."""
        key = key_for(job_id)
        updated: Job | None = None

        def update(pipe: Pipeline) -> None:
            nonlocal updated
            raw = pipe.get(key)
            if raw is None:
                return
            try:
                job = Job.model_validate_json(raw)
            except ValueError:  # an unreadable record has no webhook we could send
                pipe.multi()
                pipe.zrem(WEBHOOKS_DUE_KEY, job_id)
                return
            if job.webhook is None:
                return
            outcome = change(job)
            pipe.multi()
            pipe.set(key, dump_job(job), keepttl=True)
            if outcome is not None:
                stats.count_webhook_attempt(pipe, outcome)
            when = job.webhook.next_attempt_at
            if when is None:
                pipe.zrem(WEBHOOKS_DUE_KEY, job_id)
            else:
                pipe.zadd(WEBHOOKS_DUE_KEY, {job_id: when.timestamp()})
            updated = job

        self.redis.transaction(update, key)
        return updated

    def claim_webhook(self, job_id: str, ttl_seconds: int) -> bool:
        """One delivery of a job's event at a time: the immediate send and a sweep's (or a
        redelivered message) can arrive together; the one that does not get the claim stops.
        The TTL frees the claim of a worker that died mid-delivery."""
        return bool(self.redis.set(webhook_claim_key_for(job_id), "1", nx=True, ex=ttl_seconds))

    def release_webhook(self, job_id: str) -> None:
        self.redis.delete(webhook_claim_key_for(job_id))

    def forget_webhook(self, job_id: str) -> None:
        self.redis.zrem(WEBHOOKS_DUE_KEY, job_id)

    def due_webhooks(self, now: datetime) -> list[str]:
        return [text_of(i) for i in self.redis.zrangebyscore(WEBHOOKS_DUE_KEY, 0, now.timestamp())]


def text_of(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def dump_job(job: Job) -> str:
    return job.model_dump_json(exclude={"result"})
