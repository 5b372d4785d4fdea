"""A job's events (`JobEvents.subscribe`, `wait_until_ended`, `ended_within`): built by the
API's composition root from the job store and an asyncio Redis client (a worker does not
stream).

It subscribes to the job's pub/sub channel *before* reading the job, so nothing published in
between is lost; it then replays the segments decoded so far (a late client misses nothing), says
`queued` (with the job's place in its model's queue) while no worker has it, relays live events
(skipping segments it already sent), and ends with the job's final event. It waits on the
subscription, yielding a `keepalive` when nothing happens for `KEEPALIVE_SECONDS`, and then
reads the job once: an end published while the subscription was reconnecting is not missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

import redis
from anyio import to_thread

from app.contract.errors import JobNotFound, SyncTimeout
from app.contract.events import FINAL_KINDS, JobEvent
from app.contract.jobs import Job, JobStatus, Segment, queue_for
from app.storage.keys import events_channel_for

if TYPE_CHECKING:
    from redis.asyncio import Redis as AsyncRedis

    from app.storage.inspection import Inspection

KEEPALIVE_SECONDS = 15.0


def final_event(job: Job) -> JobEvent:
    return JobEvent(job.status.value, {"job": job.model_dump(mode="json", exclude={"result"})})


class JobReader(Protocol):
    """What events read of the job store (`app.storage.store.JobStore`)."""

    inspect: Inspection

    def get(self, job_id: str, with_result: bool = True) -> Job | None: ...

    def partial_segments(self, job_id: str) -> list[Segment]: ...


class JobEvents:
    def __init__(
        self, store: JobReader, redis: AsyncRedis, keepalive: float = KEEPALIVE_SECONDS
    ) -> None:
        self.store = store
        self.redis = redis
        self.keepalive = keepalive

    async def subscribe(self, job_id: str) -> AsyncIterator[JobEvent]:
        pubsub = self.redis.pubsub()
        await pubsub.subscribe(events_channel_for(job_id))
        try:
            job = await to_thread.run_sync(self.store.get, job_id)
            if job is None:
                return
            segments: list[Segment] = (
                job.result.segments
                if job.result is not None
                else await to_thread.run_sync(self.store.partial_segments, job_id)
            )
            for segment in segments:
                yield JobEvent("segment", segment.model_dump(mode="json"))
            if job.status.is_terminal:
                yield final_event(job)
                return
            yield await self._first_live_state(job)
            last_id = segments[-1].id if segments else -1
            async for event in self._live(pubsub, job_id, last_id):
                yield event
                if event.is_final:
                    return
        finally:
            with contextlib.suppress(redis.RedisError):  # Redis may be the reason we stop
                await pubsub.unsubscribe()
            await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def _first_live_state(self, job: Job) -> JobEvent:
        if job.status is JobStatus.QUEUED:
            queue = queue_for(job.options.model)
            position = await to_thread.run_sync(self.store.inspect.queue_position, queue, job.id)
            return JobEvent("queued", {"position": position})
        return JobEvent("progress", {"progress": job.progress})

    async def _live(self, pubsub: Any, job_id: str, last_id: int) -> AsyncIterator[JobEvent]:
        while True:
            message = await pubsub.get_message(
                ignore_subscribe_messages=True, timeout=self.keepalive
            )
            if message is None:
                # Pub/sub does not keep what was published while the subscriber reconnected
                # (a Redis failover): a quiet stream looks whether its job ended meanwhile.
                job = await to_thread.run_sync(partial(self.store.get, job_id, with_result=False))
                if job is not None and job.status.is_terminal:
                    yield final_event(job)
                    return
                yield JobEvent("keepalive", {})
                continue
            payload = json.loads(message["data"])
            kind = payload.pop("type")
            if kind == "segment":
                if payload["segment"]["id"] <= last_id:
                    continue  # already replayed
                last_id = payload["segment"]["id"]
                yield JobEvent(kind, payload["segment"])
                continue
            if kind == "processing":
                last_id = -1  # a redelivered job starts its segments over
            yield JobEvent(kind, payload)

    async def ended_within(self, job_id: str, timeout: float) -> bool:
        """Whether the job ended (or is gone) within `timeout` s: a long poll's wait. Only the
        kind of each message is read, with none of `subscribe`'s replay (segments so far, the
        queue position) that a stream needs and a long poll throws away."""
        pubsub = self.redis.pubsub()
        await pubsub.subscribe(events_channel_for(job_id))
        try:
            async with asyncio.timeout(timeout):
                while True:  # the job read after subscribing, and again whenever it is quiet
                    read = partial(self.store.get, job_id, with_result=False)
                    job = await to_thread.run_sync(read)
                    if job is None or job.status.is_terminal:
                        return True
                    while message := await pubsub.get_message(
                        ignore_subscribe_messages=True, timeout=self.keepalive
                    ):
                        if json.loads(message["data"])["type"] in FINAL_KINDS:
                            return True
        except TimeoutError:
            return False
        finally:
            with contextlib.suppress(redis.RedisError):
                await pubsub.unsubscribe()
            await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def wait_until_ended(self, job_id: str, timeout: float) -> Job:
        """The job once it ended (its result included); `SyncTimeout` past `timeout`."""
        try:
            async with asyncio.timeout(timeout):
                async for event in self.subscribe(job_id):
                    if event.is_final:
                        break
        except TimeoutError as e:
            raise SyncTimeout(
                f"The transcription did not finish within {timeout:g} s; it continues as job "
                f"{job_id}: poll GET /v1/jobs/{job_id}."
            ) from e
        job = await to_thread.run_sync(self.store.get, job_id)
        if job is None:
            raise JobNotFound(f"Job {job_id} disappeared while it ran.")
        return job

    async def aclose(self) -> None:
        await self.redis.aclose()
