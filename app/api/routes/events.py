"""`GET /v1/jobs/{id}/events`: a job's progress as Server-Sent Events (the events themselves:
`JobEvents.subscribe`); a keep-alive comment when nothing happens."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask

from app.api.deps import CallerDep, EventsDep, StoreDep
from app.api.routes.jobs import NOT_FOUND
from app.api.streams import StreamLimiter, StreamSlot
from app.contract.errors import QueueUnavailable
from app.storage.clients import REDIS_RETRY_AFTER_SECONDS, is_redis_unavailable
from app.storage.job_events import JobEvents

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])
STREAM_LOST = "The job store became unavailable; reconnect to resume (events are replayed)."


def sse(kind: str, data: Any) -> str:
    return f"event: {kind}\ndata: {json.dumps(data, default=str)}\n\n"


async def sse_events(job_id: str, events: JobEvents, slot: StreamSlot) -> AsyncIterator[str]:
    try:
        async for event in events.subscribe(job_id):
            keepalive = event.kind == "keepalive"
            yield ": keep-alive\n\n" if keepalive else sse(event.kind, event.data)
    except Exception as e:
        if not is_redis_unavailable(e):
            raise
        # Redis went away mid-stream (a failover): end with a last event saying so, and when to
        # reconnect; a new stream replays the segments decoded so far, so nothing is missed.
        yield f"retry: {REDIS_RETRY_AFTER_SECONDS * 1000}\n" + sse(
            "error", {"error": {"code": QueueUnavailable.code, "message": STREAM_LOST}}
        )
    finally:
        slot.release()


@router.get(
    "/{job_id}/events",
    responses={
        **NOT_FOUND,
        200: {"content": {"text/event-stream": {}}},
        429: {"description": "Too many open streams for this key (`rate_limited`)"},
    },
    response_class=StreamingResponse,
)
def stream_job_events(
    request: Request, job_id: str, store: StoreDep, events: EventsDep, caller: CallerDep
) -> StreamingResponse:
    """Server-Sent Events: `segment` (one per decoded segment, replayed first for late clients),
    `queued` (`position` in its model's queue, 1 = next) while no worker has the job,
    `processing` when one starts it, `progress`, then one final `completed`, `failed` or
    `canceled` event. If the job store becomes unavailable mid-stream, a last `error` event
    (`queue_unavailable`) ends it: reconnect. At most
    `WHISPER_JOBS_MAX_STREAMS_PER_KEY` open streams per key (429 beyond)."""
    store.get_owned(job_id, caller, with_result=False)  # 404 before the stream starts
    limiter: StreamLimiter = request.app.state.streams
    slot = limiter.acquire(caller)
    return StreamingResponse(
        sse_events(job_id, events, slot),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        background=BackgroundTask(slot.release),  # also when the stream never started
    )
