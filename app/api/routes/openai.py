"""OpenAI-compatible endpoints: `POST /v1/audio/transcriptions` and `/v1/audio/translations`.

They run as ordinary jobs (same queue, keys, limits; visible in `GET /v1/jobs`), and the request
waits for the job's end on its pub/sub channel (no polling) up to
`WHISPER_JOBS_SYNC_TIMEOUT_SECONDS`; past that, `504` names the job id so the caller can poll it.
`model` accepts `whisper-1` (the default model) or any offered model name.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from celery import Celery
from fastapi import APIRouter, Depends, File, Form, Request, Response, UploadFile
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from app.api.bucket_form import BucketUploadRoute, job_id_of
from app.api.deps import CallerDep, EventsDep, ProducerDep, SettingsDep, StoreDep
from app.api.forms import bounded_filename, job_options, validated_form
from app.api.openai_stream import openai_events, usage
from app.api.streams import CLIENT_CLOSED_REQUEST, StreamLimiter, until_hung_up
from app.api.submit import submit
from app.contract.errors import InvalidRequest, JobFailed
from app.contract.formats import FORMATS, SUBTITLE_DEFAULTS, download_name, render
from app.contract.jobs import Job, JobError, JobStatus, utcnow
from app.core.config import Settings
from app.storage.job_events import JobEvents
from app.storage.store import JobStore

router = APIRouter(prefix="/v1/audio", tags=["openai"], route_class=BucketUploadRoute)
ResponseFormat = Literal["json", "text", "srt", "verbose_json", "vtt", "diarized_json"]
Granularity = Literal["segment", "word"]


class OpenAIRequest:
    """The form fields both endpoints share, as OpenAI names them."""

    def __init__(
        self,
        file: Annotated[UploadFile, File(description="The audio.")],
        model: Annotated[
            str, Form(description="`whisper-1` or empty (the default model), or a model name.")
        ] = "whisper-1",
        prompt: Annotated[str | None, Form(max_length=2000)] = None,
        response_format: Annotated[ResponseFormat, Form()] = "json",
        temperature: Annotated[float | None, Form(ge=0, le=1)] = None,
        timestamp_granularities: Annotated[
            list[Granularity] | None, Form(alias="timestamp_granularities[]")
        ] = None,
        stream: Annotated[
            bool,
            Form(
                description="Server-Sent Events: `transcript.text.delta` per segment "
                "(`transcript.text.segment`, with its speaker, for diarized_json), then "
                "`transcript.text.done` (json, text or diarized_json only)."
            ),
        ] = False,
    ) -> None:
        self.file, self.model, self.prompt, self.stream = file, model, prompt, stream
        if stream and response_format not in ("json", "text", "diarized_json"):
            raise InvalidRequest(
                "stream=true works with response_format json, text or diarized_json.",
                param="stream",
            )
        self.response_format, self.temperature = response_format, temperature
        self.granularities = timestamp_granularities or ["segment"]
        if timestamp_granularities and response_format != "verbose_json":
            # OpenAI's rule: timestamp granularities come only with verbose_json.
            raise InvalidRequest(
                "timestamp_granularities[] needs response_format=verbose_json.",
                param="timestamp_granularities[]",
            )


async def run_sync_job(
    task: Literal["transcribe", "translate"],
    request: OpenAIRequest,
    language: str | None,
    settings: Settings,
    store: JobStore,
    events: JobEvents,
    producer: Celery,
    caller: str,
    http: Request,
) -> Response:
    form = validated_form(
        {
            "task": task,
            "language": language,
            "model": None if request.model in ("whisper-1", "") else request.model,
            "initial_prompt": request.prompt,
            "temperature": None if request.temperature is None else str(request.temperature),
            "word_timestamps": "word" in request.granularities,
            # OpenAI's diarizing model answers diarized_json; here any model can.
            "diarize": request.response_format == "diarized_json",
        }
    )
    job = Job(
        id=job_id_of(http),
        status=JobStatus.QUEUED,
        created_at=utcnow(),
        options=job_options(form, settings),
        filename=bounded_filename(request.file.filename),
        owner=caller,
    )
    # A wait holds a pub/sub connection, streamed or not: both count against the key's cap,
    # taken before the job exists.
    streams: StreamLimiter = http.app.state.streams
    slot = streams.acquire(caller)
    try:
        job, _ = await run_in_threadpool(
            submit, job, request.file.file, settings, store, producer, None
        )
    except BaseException:
        slot.release()
        raise
    if request.stream:
        return StreamingResponse(
            openai_events(
                job.id,
                store,
                events,
                slot,
                settings.sync_timeout_seconds,
                diarized=request.response_format == "diarized_json",
            ),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            background=BackgroundTask(slot.release),
        )
    try:
        ended = await until_hung_up(
            http, events.wait_until_ended(job.id, settings.sync_timeout_seconds)
        )
    finally:
        slot.release()
    if ended is None:  # the caller left: its wait (and connection) are freed, the job goes on
        return Response(status_code=CLIENT_CLOSED_REQUEST)
    if ended.status is not JobStatus.COMPLETED or ended.result is None:
        error = ended.error or JobError(code="canceled", message="The job was canceled.")
        raise JobFailed(error.code, error.message)
    return _rendered(ended, request.response_format)


def _rendered(job: Job, fmt: ResponseFormat) -> Response:
    """The result in OpenAI's `response_format`; json kinds carry OpenAI's `usage`."""
    assert job.result is not None
    headers = {"Content-Disposition": f'inline; filename="{download_name(job, fmt)}"'}
    if fmt == "json":
        return JSONResponse({"text": job.result.text, "usage": usage(job.result)}, headers=headers)
    if fmt == "text":
        return PlainTextResponse(job.result.text + "\n", headers=headers)
    body = render(job.result, fmt, SUBTITLE_DEFAULTS)
    if isinstance(body, dict):
        return JSONResponse({**body, "usage": usage(job.result)}, headers=headers)
    return Response(body, media_type=FORMATS[fmt].media_type, headers=headers)


RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/plain": {}, "application/x-subrip": {}, "text/vtt": {}}},
    400: {"description": "Empty upload (`empty_file`)"},
    413: {"description": "Upload over the size limit (`payload_too_large`)"},
    415: {"description": "Not audio (`unsupported_media`)"},
    429: {"description": "Too many unfinished jobs for this key (`rate_limited`)"},
    500: {"description": "The job failed in the worker (its error code)"},
    503: {"description": "`overloaded`, or the queue is unreachable (`queue_unavailable`)"},
    504: {"description": "Not done within the sync timeout (`sync_timeout`); the job continues"},
}


@router.post("/transcriptions", responses=RESPONSES)
async def create_transcription(
    http: Request,
    request: Annotated[OpenAIRequest, Depends()],
    settings: SettingsDep,
    store: StoreDep,
    events: EventsDep,
    producer: ProducerDep,
    caller: CallerDep,
    language: Annotated[str | None, Form(description="ISO 639-1 code; absent: detect.")] = None,
) -> Response:
    """OpenAI's transcription endpoint, run as a job of this service."""
    return await run_sync_job(
        "transcribe", request, language, settings, store, events, producer, caller, http
    )


@router.post("/translations", responses=RESPONSES)
async def create_translation(
    http: Request,
    request: Annotated[OpenAIRequest, Depends()],
    settings: SettingsDep,
    store: StoreDep,
    events: EventsDep,
    producer: ProducerDep,
    caller: CallerDep,
) -> Response:
    """OpenAI's translation endpoint (any language to English), run as a job of this service."""
    return await run_sync_job(
        "translate", request, None, settings, store, events, producer, caller, http
    )
