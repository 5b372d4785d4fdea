"""`JobEvents.ended_within`, a long poll's wait, on the real Redis: woken by the job's final
event, told by a re-read of the job when its channel is quiet (an end published while the
subscription was away is not missed), and False when the time runs out."""

from __future__ import annotations

import asyncio
import time

import redis
from redis.asyncio import Redis as AsyncRedis

from app.contract.jobs import Job, JobOptions, JobStatus, new_job_id, utcnow
from app.storage.job_events import JobEvents
from app.storage.keys import events_channel_for
from app.storage.store import JobStore
from tests.conftest import EmbeddedRedis


class MissedEnd:
    """The job store, but the job reads `processing` until `after` reads (its end's message
    was published while nobody listened)."""

    def __init__(self, store: JobStore, after: int) -> None:
        self.store, self.after, self.reads = store, after, 0
        self.inspect = store.inspect

    def get(self, job_id: str, with_result: bool = True) -> Job | None:
        self.reads += 1
        job = self.store.get(job_id, with_result=with_result)
        if job is not None and self.reads < self.after:
            return job.model_copy(update={"status": JobStatus.PROCESSING})
        return job

    def partial_segments(self, job_id: str) -> list:  # type: ignore[type-arg]
        return []


def _job(store: JobStore) -> str:
    job = Job(id=new_job_id(), status=JobStatus.QUEUED, created_at=utcnow(), options=JobOptions())
    store.create(job)
    return job.id


def _ended_within(server: EmbeddedRedis, reader: object, job_id: str, seconds: float) -> bool:
    async def run() -> bool:
        client = AsyncRedis.from_url(server.url)
        try:
            events = JobEvents(reader, client, keepalive=0.1)  # type: ignore[arg-type]
            return await events.ended_within(job_id, seconds)
        finally:
            await client.aclose()

    return asyncio.run(run())


def test_woken_by_the_end_or_out_of_time(store: JobStore, redis_server: EmbeddedRedis) -> None:
    job_id = _job(store)
    started = time.monotonic()
    assert not _ended_within(redis_server, store, job_id, 0.5)
    assert time.monotonic() - started >= 0.5
    store.mark_processing(job_id)
    store.mark_failed(job_id, "internal_error", "gone wrong")
    assert _ended_within(redis_server, store, job_id, 30)  # ended before: at once


def test_a_quiet_channel_reads_the_job_again(
    store: JobStore, redis_server: EmbeddedRedis, redis_client: redis.Redis
) -> None:
    job_id = _job(store)
    store.mark_processing(job_id)
    store.mark_failed(job_id, "internal_error", "gone wrong")
    reader = MissedEnd(store, after=3)
    assert _ended_within(redis_server, reader, job_id, 30)
    assert reader.reads == 3  # read after subscribing, then after each quiet 0.1 s
    (_, listeners), *_ = redis_client.pubsub_numsub(events_channel_for(job_id))
    assert listeners == 0  # unsubscribed
