"""`stream=true` on `POST /v1/audio/transcriptions`, as OpenAI documents streamed transcriptions:
Server-Sent Events whose `data` is `{"type": "transcript.text.delta", "delta": ...}` for each
decoded segment, then one `{"type": "transcript.text.done", "text": ..., "usage": ...}`.

Fed by the job's own events (`JobEvents.subscribe`). A job that fails or is canceled ends the
stream with `{"type": "error", "error": {...}}`, which OpenAI's SDKs raise as an `APIError`; so
does losing the job store mid-stream (`queue_unavailable`).
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import AsyncIterator
from typing import Any

from starlette.concurrency import run_in_threadpool

from app.api.streams import StreamSlot
from app.contract.jobs import TranscriptResult
from app.storage.clients import is_redis_unavailable
from app.storage.job_events import JobEvents
from app.storage.store import JobStore


def usage(result: TranscriptResult) -> dict[str, Any]:
    """OpenAI's usage object of an audio-priced request: whole seconds, rounded up."""
    return {"type": "duration", "seconds": math.ceil(result.duration)}


def _data(event: dict[str, Any]) -> str:
    return f"data: {json.dumps(event)}\n\n"


def _error(code: str, message: str) -> str:
    return _data(
        {
            "type": "error",
            "error": {"message": message, "type": "server_error", "param": None, "code": code},
        }
    )


def _segment(data: dict[str, Any]) -> dict[str, Any]:
    """A diarized stream's event: one segment with its speaker, as OpenAI's."""
    return {
        "type": "transcript.text.segment",
        "id": f"seg_{data['id']}",
        "start": data["start"],
        "end": data["end"],
        "text": data["text"],
        "speaker": data.get("speaker") or "A",
    }


async def openai_events(
    job_id: str,
    store: JobStore,
    events: JobEvents,
    slot: StreamSlot,
    timeout: float,
    diarized: bool = False,
) -> AsyncIterator[str]:
    try:
        async with asyncio.timeout(timeout):
            async for event in events.subscribe(job_id):
                kind, data = event.kind, event.data
                if kind == "segment" and diarized:
                    yield _data(_segment(data))
                elif kind == "segment":
                    yield _data({"type": "transcript.text.delta", "delta": data["text"]})
                elif kind == "keepalive":
                    yield ": keep-alive\n\n"
                elif kind == "completed":
                    job = await run_in_threadpool(store.get, job_id)
                    if job is None or job.result is None:
                        yield _error("internal_error", f"Job {job_id} vanished as it ended.")
                        return
                    yield _data(
                        {
                            "type": "transcript.text.done",
                            "text": job.result.text,
                            "usage": usage(job.result),
                        }
                    )
                    return
                elif kind in ("failed", "canceled"):
                    error = data["job"].get("error") or {}
                    yield _error(error.get("code", kind), error.get("message", f"Job {kind}."))
                    return
    except TimeoutError:
        yield _error(
            "sync_timeout",
            f"The transcription did not finish within {timeout:g} s; "
            f"it continues as job {job_id}: poll GET /v1/jobs/{job_id}.",
        )
    except Exception as e:
        if not is_redis_unavailable(e):
            raise
        # Redis went away mid-stream (a failover): say so; the job itself goes on.
        yield _error(
            "queue_unavailable",
            "The job store became unavailable; the job continues "
            f"as job {job_id}: poll GET /v1/jobs/{job_id}.",
        )
    finally:
        slot.release()
