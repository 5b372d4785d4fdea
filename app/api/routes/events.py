"""`GET /v1/jobs/{id}/events`: a job's progress as Server-Sent Events.

The stream subscribes to the job's pub/sub channel *before* reading the job, so nothing published
in between is lost; it then replays the segments decoded so far (a late client misses nothing),
relays live events (skipping segments it already sent), and ends with the job's final event.
No polling: it waits on the subscription, with a keep-alive comment when nothing happens.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from redis.asyncio import Redis as AsyncRedis
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from app.api.deps import AsyncRedisDep, CallerDep, StoreDep
from app.api.routes.jobs import NOT_FOUND
from app.api.streams import StreamLimiter, StreamSlot
from app.jobs import Job, Segment
from app.keys import events_channel_for
from app.store import JobStore

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])
KEEPALIVE_SECONDS = 15.0
TERMINAL_EVENTS = {"completed", "failed", "canceled"}


def sse(kind: str, data: Any) -> str:
    return f"event: {kind}\ndata: {json.dumps(data, default=str)}\n\n"


def _final(job: Job) -> str:
    return sse(job.status.value, {"job": job.model_dump(mode="json", exclude={"result"})})


async def job_events(
    job_id: str, store: JobStore, redis: AsyncRedis, slot: StreamSlot
) -> AsyncIterator[str]:
    try:
        async for chunk in _job_events(job_id, store, redis):
            yield chunk
    finally:
        slot.release()


async def _job_events(job_id: str, store: JobStore, redis: AsyncRedis) -> AsyncIterator[str]:
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
            yield sse("segment", segment.model_dump(mode="json"))
            last_id = segment.id
        if job.status.is_terminal:
            yield _final(job)
            return
        yield sse("progress", {"progress": job.progress})
        while True:
            message = await pubsub.get_message(
                ignore_subscribe_messages=True, timeout=KEEPALIVE_SECONDS
            )
            if message is None:
                yield ": keep-alive\n\n"
                continue
            payload = json.loads(message["data"])
            kind = payload.pop("type")
            if kind == "segment":
                if payload["segment"]["id"] <= last_id:
                    continue  # already replayed
                last_id = payload["segment"]["id"]
                yield sse(kind, payload["segment"])
                continue
            if kind == "processing":
                last_id = -1  # a redelivered job starts its segments over
            yield sse(kind, payload)
            if kind in TERMINAL_EVENTS:
                return
    finally:
        await pubsub.unsubscribe()
        await pubsub.aclose()  # type: ignore[no-untyped-call]


@router.get(
    "/{job_id}/events",
    responses={**NOT_FOUND, 200: {"content": {"text/event-stream": {}}},
               429: {"description": "Too many open streams for this key (`rate_limited`)"}},
    response_class=StreamingResponse,
)  # fmt: skip
def stream_job_events(
    request: Request, job_id: str, store: StoreDep, redis: AsyncRedisDep, caller: CallerDep
) -> StreamingResponse:
    """Server-Sent Events: `segment` (one per decoded segment, replayed first for late clients),
    `progress`, then one final `completed`, `failed` or `canceled` event. At most
    `WHISPER_JOBS_MAX_STREAMS_PER_KEY` open streams per key (429 beyond)."""
    store.get_owned(job_id, caller, with_result=False)  # 404 before the stream starts
    limiter: StreamLimiter = request.app.state.streams
    slot = limiter.acquire(caller)
    return StreamingResponse(
        job_events(job_id, store, redis, slot),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        background=BackgroundTask(slot.release),  # also when the stream never started
    )
