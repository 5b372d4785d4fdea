"""JobStore: the only code that touches the job keys in Redis (their layout: `app.storage.keys`; the
webhook delivery state: its base class in `app.storage.webhook_deliveries`).

Every status change is a WATCH/MULTI transaction that re-checks the transition table, so two
processes racing (a cancel against a completing worker) cannot both win. Terminal writes put the
status, the result and the TTL in the same transaction. Jobs in flight have no TTL: they must never
expire before they end.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Self, TypeVar

from app.contract.errors import InvalidTransition, JobNotFound
from app.contract.jobs import (
    Job,
    JobError,
    JobStatus,
    Segment,
    TranscriptResult,
    can_transition,
    utcnow,
)
from app.storage import stats
from app.storage.idempotency import JobCreation
from app.storage.inspection import Inspection
from app.storage.job_creation import Caps, script_for
from app.storage.job_parts import PARTS_OWNER, JobParts, parts_key_for
from app.storage.keys import (
    ACTIVE_KEY,
    WEBHOOKS_DUE_KEY,
    event,
    events_channel_for,
    key_for,
    lease_key_for,
    owner_active_key,
    owner_jobs_key,
    result_key_for,
    segments_key_for,
    webhook_claim_key_for,
)
from app.storage.kombu_layout import QueuedMessage
from app.storage.records import dump_job, is_job_id, owner_in, parse_job, text_of
from app.storage.transactions import Write, pinned, watch_update
from app.storage.webhook_deliveries import WebhookDeliveries

if TYPE_CHECKING:
    from redis import Redis
    from redis.client import Pipeline

T = TypeVar("T")


class JobStore:
    def __init__(
        self,
        redis: Redis,
        result_ttl_seconds: int,
        on_terminal: Callable[[Job], None] | None = None,
        *,
        min_replicas: int = 0,
        replica_timeout_ms: int = 1000,
    ) -> None:
        self.redis = redis
        self.min_replicas, self.replica_timeout_ms = min_replicas, replica_timeout_ms
        self.result_ttl_seconds = result_ttl_seconds
        # Called after a job reached its final status (e.g. to send its webhook at once).
        self.on_terminal = on_terminal
        self.inspect = Inspection(redis)
        self.webhooks = WebhookDeliveries(redis)
        self.parts = JobParts(redis, result_ttl_seconds)
        self.creation = JobCreation(script_for(redis))

    def create(
        self,
        job: Job,
        idempotency: tuple[str, str] | None = None,
        message: QueuedMessage | None = None,
        caps: Caps | None = None,
    ) -> Job:
        """A new job, admitted and idempotent: `app.storage.idempotency.JobCreation.create`."""
        return self.creation.create(self, job, idempotency, message, caps)

    def durably(self, write: Callable[[Self], T]) -> tuple[T, bool]:
        """`write(store)` on one connection, then Redis' `WAIT` for `min_replicas` on it: (the
        write's outcome, whether that many replicas hold it). Without `min_replicas`: True."""
        if self.min_replicas == 0:
            return write(self), True
        with pinned(self.redis) as connection:
            store = copy.copy(self)
            store.redis = connection
            outcome = write(store)
            acked = int(connection.wait(self.min_replicas, self.replica_timeout_ms))
        return outcome, acked >= self.min_replicas

    def ping(self) -> bool:
        return bool(self.redis.ping())

    def close(self) -> None:
        """Close the client (and its pool)."""
        self.redis.close()

    def get_owned(self, job_id: str, owner: str, *, with_result: bool = True) -> Job:
        """The job if `owner` created it; anyone else gets not-found, never forbidden (and so
        does an id that is not in the id format: it would name another key)."""
        job = self.get(job_id, with_result=with_result) if is_job_id(job_id) else None
        if job is None or job.owner != owner:
            raise JobNotFound(f"No job with id {job_id!r}.")
        return job

    def list_owned(
        self, owner: str, limit: int, status: JobStatus | None = None, after: str | None = None
    ) -> list[Job]:
        """The owner's jobs, newest first (without results); expired ids are pruned. `after`:
        only jobs older than that one (the last of the previous page)."""
        index = owner_jobs_key(owner)
        jobs: list[Job] = []
        start = 0
        if after is not None:
            rank = self.redis.zrevrank(index, after) if is_job_id(after) else None
            if rank is None:
                raise JobNotFound(f"No job with id {after!r} to page after.")
            start = int(rank) + 1  # type: ignore[arg-type]  # an int: WITHSCORE is not asked
        while len(jobs) < limit:
            ids = [text_of(i) for i in self.redis.zrevrange(index, start, start + 2 * limit - 1)]
            if not ids:
                break
            start += len(ids)
            raws = self.redis.mget([key_for(i) for i in ids])
            gone = [i for i, raw in zip(ids, raws, strict=True) if raw is None]
            if gone:
                self.redis.zrem(index, *gone)
                start -= len(gone)
            for job_id, raw in zip(ids, raws, strict=True):
                job = None if raw is None else parse_job(raw, job_id)
                if job is not None and (status is None or job.status is status):
                    jobs.append(job)
        return jobs[:limit]

    def get(self, job_id: str, *, with_result: bool = True) -> Job | None:
        """The job, or None when there is none or its record cannot be read (`parse_job`)."""
        if not with_result:
            raw = self.redis.get(key_for(job_id))
            return None if raw is None else parse_job(raw, job_id)
        raw, raw_result = self.redis.mget([key_for(job_id), result_key_for(job_id)])
        job = None if raw is None else parse_job(raw, job_id)
        if job is not None and raw_result is not None:
            job.result = TranscriptResult.model_validate_json(raw_result)
        return job

    def active_ids(self) -> set[str]:
        return {text_of(m) for m in self.redis.smembers(ACTIVE_KEY)}

    def mark_processing(self, job_id: str) -> Job:
        def change(job: Job) -> None:
            job.status = JobStatus.PROCESSING
            job.started_at = utcnow()
            job.progress = 0.0
            job.attempts += 1

        return self._transition(job_id, JobStatus.PROCESSING, change)

    def refund_attempt(self, job_id: str) -> None:
        """A run ended through no fault of the job's (another job's overrun ended its worker
        process): its next run is not counted against its attempts."""
        key = key_for(job_id)

        def decide(raw: Any) -> tuple[None, Write | None]:
            job = None if raw is None else parse_job(raw, job_id)
            if job is None or job.status is not JobStatus.PROCESSING or job.attempts < 1:
                return None, None
            job.attempts -= 1

            def write(pipe: Pipeline) -> None:
                pipe.set(key, dump_job(job), keepttl=True)

            return None, write

        watch_update(self.redis, key, decide)

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

        def decide(raw: Any) -> tuple[bool, Write | None]:
            job = None if raw is None else parse_job(raw, job_id)
            if job is None or job.status is not JobStatus.PROCESSING:
                return False, None
            job.progress = min(max(progress, job.progress), 1.0)

            def write(pipe: Pipeline) -> None:
                channel = events_channel_for(job_id)
                pipe.set(key, dump_job(job))
                pipe.rpush(segments_key_for(job_id), segment.model_dump_json())
                pipe.publish(channel, event("segment", segment=segment.model_dump(mode="json")))
                pipe.publish(channel, event("progress", progress=job.progress))

            return True, write

        return watch_update(self.redis, key, decide)

    def record_step(self, job_id: str, step: str, progress: float) -> bool:
        """Advance progress within a step that makes no segments (`diarizing`) and publish it;
        False when the job is no longer running (canceled), as `record_segment`."""
        key = key_for(job_id)

        def decide(raw: Any) -> tuple[bool, Write | None]:
            job = None if raw is None else parse_job(raw, job_id)
            if job is None or job.status is not JobStatus.PROCESSING:
                return False, None
            job.progress = min(max(progress, job.progress), 1.0)

            def write(pipe: Pipeline) -> None:
                pipe.set(key, dump_job(job))
                pipe.publish(
                    events_channel_for(job_id), event("progress", progress=job.progress, step=step)
                )

            return True, write

        return watch_update(self.redis, key, decide)

    def partial_segments(self, job_id: str) -> list[Segment]:
        raw = self.redis.lrange(segments_key_for(job_id), 0, -1)
        return [Segment.model_validate_json(item) for item in raw]

    def delete(self, job: Job) -> bool:
        """Everything the job made: its record, result, segments and claims, and a long job's
        parts plan and every part's own (a part's text is the job's text too)."""
        parts = self.parts.part_ids(job.id)
        with self.redis.pipeline(transaction=True) as pipe:
            for job_id in [job.id, *parts]:
                pipe.delete(
                    key_for(job_id),
                    result_key_for(job_id),
                    segments_key_for(job_id),
                    webhook_claim_key_for(job_id),
                    lease_key_for(job_id),
                )
                pipe.srem(ACTIVE_KEY, job_id)
                pipe.zrem(WEBHOOKS_DUE_KEY, job_id)
            pipe.delete(parts_key_for(job.id))
            pipe.srem(owner_active_key(job.owner), job.id)
            pipe.zrem(owner_jobs_key(job.owner), job.id)
            deleted = pipe.execute()[0]
        return bool(deleted)

    def requeue(self, job_id: str) -> Job:
        """processing -> queued: the recovery sweep hands a job whose worker vanished back."""

        def change(job: Job) -> None:
            job.status = JobStatus.QUEUED
            job.progress = 0.0

        return self._transition(job_id, JobStatus.QUEUED, change)

    def hold_lease(self, job_id: str, ttl_seconds: int) -> None:
        """A running worker's heartbeat: while the lease lives, the job is not stuck."""
        self.redis.set(lease_key_for(job_id), "1", ex=ttl_seconds)

    def take_lease(self, job_id: str, ttl_seconds: int) -> bool:
        """The lease, if no one holds it: an exclusive claim (a long job's parts, which both
        their queue message and the job's own run may come to decode)."""
        return bool(self.redis.set(lease_key_for(job_id), "1", ex=ttl_seconds, nx=True))

    def has_lease(self, job_id: str) -> bool:
        return bool(self.redis.exists(lease_key_for(job_id)))

    def forget_active(self, job_id: str) -> None:
        """Drop an id from the active set whose record no longer exists or cannot be read; an
        unreadable record then expires like a finished job (its owner may DELETE it sooner)."""
        raw = self.redis.get(key_for(job_id))
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.srem(ACTIVE_KEY, job_id)
            if raw is not None and (owner := owner_in(raw)) is not None:
                pipe.srem(owner_active_key(owner), job_id)
            pipe.expire(key_for(job_id), self.result_ttl_seconds)
            pipe.execute()

    def delete_unreadable(self, job_id: str, owner: str) -> bool:
        """Remove a record `parse_job` refuses, if `owner` created it (DELETE still works)."""
        raw = self.redis.get(key_for(job_id)) if is_job_id(job_id) else None
        if raw is None or parse_job(raw, job_id) is not None or owner_in(raw) != owner:
            return False
        placeholder = Job.model_construct(id=job_id, owner=owner)
        return self.delete(placeholder)

    def _transition(
        self,
        job_id: str,
        target: JobStatus,
        change: Callable[[Job], None],
        *,
        result: TranscriptResult | None = None,
    ) -> Job:
        key = key_for(job_id)

        def decide(raw: Any) -> tuple[Job, Write]:
            job = None if raw is None else parse_job(raw, job_id)
            if job is None:
                raise JobNotFound(f"No job with id {job_id!r}.")
            before = job.status
            if not can_transition(before, target):
                raise InvalidTransition(
                    f"Job {job_id} is {before.value}; it cannot become {target.value}."
                )
            change(job)
            return job, lambda pipe: self._write_transition(pipe, job, before, target, result)

        changed = watch_update(self.redis, key, decide)
        if result is not None:
            changed.result = result
        if target.is_terminal and self.on_terminal is not None:
            self.on_terminal(changed)
        return changed

    def _write_transition(
        self,
        pipe: Pipeline,
        job: Job,
        before: JobStatus,
        target: JobStatus,
        result: TranscriptResult | None,
    ) -> None:
        """The writes of one status change, all in the transaction that checked it."""
        job_id, key = job.id, key_for(job.id)
        counted = job.owner != PARTS_OWNER  # the metrics count jobs, not a long job's parts
        if counted:
            stats.move_in_flight(pipe, job.options.model, before, target)
        if target is JobStatus.PROCESSING:
            pipe.delete(segments_key_for(job_id))  # a rerun starts its segments over
        if target.is_terminal and job.webhook is not None:
            # Due now; recorded in the same transaction, so the event cannot be lost.
            job.webhook.next_attempt_at = utcnow()
            pipe.zadd(WEBHOOKS_DUE_KEY, {job_id: job.webhook.next_attempt_at.timestamp()})
        if target.is_terminal:
            ttl = self.result_ttl_seconds
            pipe.set(key, dump_job(job), ex=ttl)
            if result is not None:
                pipe.set(result_key_for(job_id), result.model_dump_json(), ex=ttl)
            pipe.srem(ACTIVE_KEY, job_id)
            pipe.srem(owner_active_key(job.owner), job_id)
            pipe.delete(segments_key_for(job_id), lease_key_for(job_id))  # the result has them
            if counted:
                stats.count_finished(pipe, job, result)
        else:
            pipe.set(key, dump_job(job))
            pipe.sadd(ACTIVE_KEY, job_id)
        payload = job.model_dump(mode="json", exclude={"result"})
        pipe.publish(events_channel_for(job_id), event(target.value, job=payload))
