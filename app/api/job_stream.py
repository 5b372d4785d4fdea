"""A job's life as a stream of `(kind, data)` events, for the SSE route and OpenAI's streaming.

It subscribes to the job's pub/sub channel *before* reading the job, so nothing published in
between is lost; it then replays the segments decoded so far (a late client misses nothing), says
`queued` (with the job's place in its model's queue) while no worker has it, relays live events
(skipping segments it already sent), and ends with the job's final event. No polling: it waits
on the subscription, with a `keepalive` when nothing happens for a while.

Kinds: `segment` (a segment's JSON), `queued` (`{"position": n | null}`: 1 is next), `progress`
(`{"progress": p}`), `processing`, `keepalive`, and the final `completed` / `failed` /
`canceled` (`{"job": ...}` without the result).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from redis.asyncio import Redis as AsyncRedis
from starlette.concurrency import run_in_threadpool

from app.contract.jobs import Job, JobStatus, Segment, queue_for
from app.storage.broker import queue_position
from app.storage.keys import events_channel_for
from app.storage.store import JobStore

KEEPALIVE_SECONDS = 15.0
TERMINAL_EVENTS = frozenset({"completed", "failed", "canceled"})
Event = tuple[str, dict[str, Any]]


def final_event(job: Job) -> Event:
    return job.status.value, {"job": job.model_dump(mode="json", exclude={"result"})}


async def job_events(job_id: str, store: JobStore, redis: AsyncRedis) -> AsyncIterator[Event]:
    pubsub = redis.pubsub()
    await pubsub.subscribe(events_channel_for(job_id))
    try:
        job = await run_in_threadpool(store.get, job_id)
        if job is None:
            return
        segments: list[Segment] = (
            job.result.segments
            if job.result is not None
            else await run_in_threadpool(store.partial_segments, job_id)
        )
        last_id = -1
        for segment in segments:
            yield "segment", segment.model_dump(mode="json")
            last_id = segment.id
        if job.status.is_terminal:
            yield final_event(job)
            return
        if job.status is JobStatus.QUEUED:
            queue = queue_for(job.options.model)
            position = await run_in_threadpool(queue_position, store.redis, queue, job_id)
            yield "queued", {"position": position}
        else:
            yield "progress", {"progress": job.progress}
        async for kind, data in _live(pubsub, last_id):
            yield kind, data
            if kind in TERMINAL_EVENTS:
                return
    finally:
        await pubsub.unsubscribe()
        await pubsub.aclose()  # type: ignore[no-untyped-call]


async def _live(pubsub: Any, last_id: int) -> AsyncIterator[Event]:
    while True:
        message = await pubsub.get_message(
            ignore_subscribe_messages=True, timeout=KEEPALIVE_SECONDS
        )
        if message is None:
            yield "keepalive", {}
            continue
        payload = json.loads(message["data"])
        kind = payload.pop("type")
        if kind == "segment":
            if payload["segment"]["id"] <= last_id:
                continue  # already replayed
            last_id = payload["segment"]["id"]
            yield kind, payload["segment"]
            continue
        if kind == "processing":
            last_id = -1  # a redelivered job starts its segments over
        yield kind, payload
