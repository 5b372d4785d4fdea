"""The webhook side of the job store (`store.webhooks`, a component it holds): each finished
job's delivery state, the due set that keeps retries in Redis (not in queue countdowns), and the
claim that lets one delivery of an event be in flight at a time, and the slots that bound how many
are in flight per receiver and per key (`store.webhooks.slots`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from app.contract.jobs import Job
from app.storage import stats
from app.storage.keys import WEBHOOKS_DUE_KEY, key_for, webhook_claim_key_for
from app.storage.records import dump_job, text_of
from app.storage.transactions import Write, watch_update
from app.storage.webhook_slots import WebhookSlots

# Deletes the claim only if it is still this attempt's (a lapsed claim may be someone else's).
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

if TYPE_CHECKING:
    from redis import Redis
    from redis.client import Pipeline


class WebhookDeliveries:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.slots = WebhookSlots(redis)
        self._release = redis.register_script(RELEASE)

    def record_attempt(self, job_id: str, change: Callable[[Job], str | None]) -> Job | None:
        """Update a finished job's webhook state (its TTL kept) and its place in the due set.
        `change` returns the attempt's outcome to count (`delivered`, `retry`, `gave_up`)."""
        key = key_for(job_id)

        def decide(raw: Any) -> tuple[Job | None, Write | None]:
            if raw is None:
                return None, None
            try:
                job = Job.model_validate_json(raw)
            except ValueError:  # an unreadable record has no webhook we could send
                return None, lambda pipe: self._drop_due(pipe, job_id)
            if job.webhook is None:
                return None, None
            outcome = change(job)

            def write(pipe: Pipeline) -> None:
                assert job.webhook is not None
                pipe.set(key, dump_job(job), keepttl=True)
                if outcome is not None:
                    stats.count_webhook_attempt(pipe, outcome)
                when = job.webhook.next_attempt_at
                if when is None:
                    pipe.zrem(WEBHOOKS_DUE_KEY, job_id)
                else:
                    pipe.zadd(WEBHOOKS_DUE_KEY, {job_id: when.timestamp()})

            return job, write

        return watch_update(self.redis, key, decide)

    @staticmethod
    def _drop_due(pipe: Pipeline, job_id: str) -> None:
        pipe.zrem(WEBHOOKS_DUE_KEY, job_id)

    def claim(self, job_id: str, token: str, ttl_seconds: int) -> bool:
        """One delivery of a job's event at a time: the immediate send and a sweep's (or a
        redelivered message) can arrive together; the one that does not get the claim stops.
        The TTL frees the claim of a worker that died mid-delivery; it must outlast the
        attempt's own deadline, or a second attempt of the same event could start beside it."""
        key = webhook_claim_key_for(job_id)
        return bool(self.redis.set(key, token, nx=True, ex=ttl_seconds))

    def release(self, job_id: str, token: str) -> None:
        self._release(keys=[webhook_claim_key_for(job_id)], args=[token])

    def forget(self, job_id: str) -> None:
        self.redis.zrem(WEBHOOKS_DUE_KEY, job_id)

    def due(self, now: datetime) -> list[str]:
        return [text_of(i) for i in self.redis.zrangebyscore(WEBHOOKS_DUE_KEY, 0, now.timestamp())]
