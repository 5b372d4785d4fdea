"""JobStore: the only code that touches the job keys in Redis.

Layout (all under `whisper-jobs:`):
- `job:{id}`         the Job as JSON, without its result (small: polled often);
- `job:{id}:result`  the TranscriptResult as JSON (large: read only when asked for);
- `job:{id}:segments` segments decoded so far by a running job (replayed to late SSE clients);
- `job:{id}:events`   the pub/sub channel of a job's progress, segment and final events;
- `active`           a set of the ids that are not yet in a terminal status.

Every status change is a WATCH/MULTI transaction that re-checks the transition table, so two
processes racing (a cancel against a completing worker) cannot both win. Terminal writes put the
status, the result and the TTL in the same transaction. Jobs in flight have no TTL: they must never
expire before they end.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from app.errors import InvalidTransition, JobNotFound
from app.jobs import (
    Job,
    JobError,
    JobStatus,
    Segment,
    TranscriptResult,
    can_transition,
    utcnow,
)

if TYPE_CHECKING:
    from redis import Redis
    from redis.client import Pipeline

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


def event(kind: str, **data: Any) -> str:
    return json.dumps({"type": kind, **data}, default=str)


class JobStore:
    def __init__(self, redis: Redis, result_ttl_seconds: int) -> None:
        self.redis = redis
        self.result_ttl_seconds = result_ttl_seconds

    def ping(self) -> bool:
        return bool(self.redis.ping())

    def create(self, job: Job) -> None:
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(key_for(job.id), _dump(job), nx=True)
            pipe.sadd(ACTIVE_KEY, job.id)
            created, _ = pipe.execute()
        if not created:
            raise InvalidTransition(f"Job {job.id} already exists.")

    def get(self, job_id: str, *, with_result: bool = True) -> Job | None:
        if not with_result:
            raw = self.redis.get(key_for(job_id))
            return None if raw is None else Job.model_validate_json(raw)
        raw, raw_result = self.redis.mget([key_for(job_id), result_key_for(job_id)])
        if raw is None:
            return None
        job = Job.model_validate_json(raw)
        if raw_result is not None:
            job.result = TranscriptResult.model_validate_json(raw_result)
        return job

    def get_or_raise(self, job_id: str) -> Job:
        job = self.get(job_id)
        if job is None:
            raise JobNotFound(f"No job with id {job_id!r}.")
        return job

    def active_ids(self) -> set[str]:
        return {
            m.decode() if isinstance(m, bytes) else str(m) for m in self.redis.smembers(ACTIVE_KEY)
        }

    def mark_processing(self, job_id: str) -> Job:
        def change(job: Job) -> None:
            job.status = JobStatus.PROCESSING
            job.started_at = utcnow()
            job.progress = 0.0

        return self._transition(job_id, JobStatus.PROCESSING, change)

    def mark_completed(self, job_id: str, result: TranscriptResult) -> Job:
        def change(job: Job) -> None:
            job.status = JobStatus.COMPLETED
            job.completed_at = utcnow()
            job.progress = 1.0

        return self._transition(job_id, JobStatus.COMPLETED, change, result=result)

    def mark_failed(self, job_id: str, code: str, message: str) -> Job:
        def change(job: Job) -> None:
            job.status = JobStatus.FAILED
            job.completed_at = utcnow()
            job.error = JobError(code=code, message=message)

        return self._transition(job_id, JobStatus.FAILED, change)

    def mark_canceled(self, job_id: str) -> Job:
        def change(job: Job) -> None:
            job.status = JobStatus.CANCELED
            job.completed_at = utcnow()

        return self._transition(job_id, JobStatus.CANCELED, change)

    def record_segment(self, job_id: str, segment: Segment, progress: float) -> bool:
        """Append a decoded segment, advance progress and publish both, in one transaction.

        Returns False when the job is no longer running (canceled): the worker then stops.
        """
        key = key_for(job_id)
        still_running = False

        def update(pipe: Pipeline) -> None:
            nonlocal still_running
            raw = pipe.get(key)
            job = None if raw is None else Job.model_validate_json(raw)
            still_running = job is not None and job.status is JobStatus.PROCESSING
            if job is None or not still_running:
                return
            job.progress = min(max(progress, job.progress), 1.0)
            channel = events_channel_for(job_id)
            pipe.multi()
            pipe.set(key, _dump(job))
            pipe.rpush(segments_key_for(job_id), segment.model_dump_json())
            pipe.publish(channel, event("segment", segment=segment.model_dump(mode="json")))
            pipe.publish(channel, event("progress", progress=job.progress))

        self.redis.transaction(update, key)
        return still_running

    def partial_segments(self, job_id: str) -> list[Segment]:
        raw = self.redis.lrange(segments_key_for(job_id), 0, -1)
        return [Segment.model_validate_json(item) for item in raw]

    def delete(self, job_id: str) -> bool:
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(key_for(job_id), result_key_for(job_id), segments_key_for(job_id))
            pipe.srem(ACTIVE_KEY, job_id)
            deleted, _ = pipe.execute()
        return bool(deleted)

    def _transition(
        self,
        job_id: str,
        target: JobStatus,
        change: Callable[[Job], None],
        *,
        result: TranscriptResult | None = None,
    ) -> Job:
        key = key_for(job_id)
        changed: Job | None = None

        def update(pipe: Pipeline) -> None:
            nonlocal changed
            raw = pipe.get(key)
            if raw is None:
                raise JobNotFound(f"No job with id {job_id!r}.")
            job = Job.model_validate_json(raw)
            if not can_transition(job.status, target):
                raise InvalidTransition(
                    f"Job {job_id} is {job.status.value}; it cannot become {target.value}."
                )
            change(job)
            pipe.multi()
            if target is JobStatus.PROCESSING:
                pipe.delete(segments_key_for(job_id))  # a rerun starts its segments over
            if target.is_terminal:
                ttl = self.result_ttl_seconds
                pipe.set(key, _dump(job), ex=ttl)
                if result is not None:
                    pipe.set(result_key_for(job_id), result.model_dump_json(), ex=ttl)
                pipe.srem(ACTIVE_KEY, job_id)
                pipe.delete(segments_key_for(job_id))  # the result holds them now
            else:
                pipe.set(key, _dump(job))
                pipe.sadd(ACTIVE_KEY, job_id)
            payload = job.model_dump(mode="json", exclude={"result"})
            pipe.publish(events_channel_for(job_id), event(target.value, job=payload))
            changed = job

        self.redis.transaction(update, key)
        assert changed is not None
        if result is not None:
            changed.result = result
        return changed


def _dump(job: Job) -> str:
    return job.model_dump_json(exclude={"result"})
