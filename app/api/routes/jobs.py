"""`/v1/jobs`: submit audio, poll a job, fetch its transcript, cancel or delete it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Header, Query, Request, Response, UploadFile, status
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, Field
from starlette.concurrency import run_in_threadpool

from app.api.bucket_form import BucketUploadRoute, job_id_of
from app.api.deps import CallerDep, EventsDep, ProducerDep, SettingsDep, StoreDep
from app.api.forms import (
    JobForm,
    bounded_filename,
    check_known_fields,
    job_options,
    parse_metadata,
)
from app.api.streams import CLIENT_CLOSED_REQUEST, StreamLimiter, until_hung_up
from app.api.submit import check_caller_url, submit, submit_url
from app.contract.errors import (
    InvalidRequest,
    JobNotCompleted,
    JobNotFound,
    NoWebhook,
)
from app.contract.formats import FORMATS, check_format, download_name, render, subtitle_limits
from app.contract.jobs import Job, JobStatus, WebhookState, utcnow
from app.storage.broker import enqueue_webhook

# The longest long poll (`GET /v1/jobs/{id}?wait=`): below common proxies' 60-100 s idle cuts.
MAX_LONG_POLL_SECONDS = 60

router = APIRouter(prefix="/v1/jobs", tags=["jobs"], route_class=BucketUploadRoute)

NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such job (`not_found`)"}}


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Job,
    responses={
        200: {"description": "An `Idempotency-Key` replay: the job it created before"},
        400: {"description": "Empty upload (`empty_file`)"},
        401: {"description": "No or an unknown API key (`unauthorized`)"},
        413: {"description": "Upload over the size limit (`payload_too_large`)"},
        415: {"description": "Not audio, or no audio stream (`unsupported_media`)"},
        422: {
            "description": "Invalid option (`invalid_request`), unknown model "
            "(`model_not_available`), English-only model (`model_not_multilingual`), "
            "`audio_too_long`, `idempotency_key_reused`"
        },
        429: {"description": "Too many unfinished jobs for this key (`rate_limited`)"},
        503: {
            "description": "`overloaded`, the queue is unreachable (`queue_unavailable`), or "
            "the upload bucket is (`storage_unavailable`)"
        },
    },
)
async def create_job(
    request: Request,
    response: Response,
    settings: SettingsDep,
    store: StoreDep,
    producer: ProducerDep,
    caller: CallerDep,
    form: Annotated[JobForm, Form()],
    file: Annotated[
        UploadFile | None,
        File(description="The audio (any format FFmpeg decodes); or send `audio_url`."),
    ] = None,
    idempotency_key: Annotated[
        str | None,
        Header(
            max_length=255,
            description="Retry-safe submission: the same key within 24 h "
            "returns the job it created (200).",
        ),
    ] = None,
) -> Job:
    """Queue a transcription job for an uploaded file or an audio URL; poll `Location`."""
    check_known_fields((await request.form()).keys())  # parsed already: FastAPI's cached form
    if (file is None) == (not form.audio_url):
        raise InvalidRequest("Send exactly one of `file` (an upload) and `audio_url`.")
    options = job_options(form, settings)
    webhook = None
    if form.webhook_url:
        if not settings.webhook_secret:
            raise InvalidRequest("webhook_url needs WHISPER_JOBS_WEBHOOK_SECRET on the server.")
        await check_caller_url(form.webhook_url, settings)
        webhook = WebhookState(url=form.webhook_url, include_result=form.webhook_include_result)
    job = Job(
        id=job_id_of(request),
        status=JobStatus.QUEUED,
        created_at=utcnow(),
        options=options,
        metadata=parse_metadata(form.metadata),
        filename=bounded_filename(file.filename) if file else None,
        owner=caller,
        source_url=form.audio_url or None,
        webhook=webhook,
    )
    # Redis and the broker are called in the thread pool, never on the event loop: a frozen
    # Redis must cost this request its timeout, not stall every other request with it.
    if file is None:
        assert job.source_url is not None
        await check_caller_url(job.source_url, settings)
        job, created = await run_in_threadpool(
            submit_url, job, settings, store, producer, idempotency_key
        )
    else:
        job, created = await run_in_threadpool(
            submit, job, file.file, settings, store, producer, idempotency_key
        )
    response.headers["Location"] = f"/v1/jobs/{job.id}"
    if not created:
        response.status_code = status.HTTP_200_OK
    return job


class JobList(BaseModel):
    data: list[Job]
    has_more: bool = Field(
        default=False, description="More jobs follow: ask again with `after` = the last id."
    )


@router.get("", response_model=JobList, responses=NOT_FOUND)
def list_jobs(
    store: StoreDep,
    caller: CallerDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    status: Annotated[JobStatus | None, Query(description="Only jobs in this status.")] = None,
    after: Annotated[
        str | None, Query(max_length=32, description="Only jobs older than this one (paging).")
    ] = None,
) -> JobList:
    """The caller's jobs, newest first (without results), a page at a time."""
    jobs = store.list_owned(caller, limit + 1, status, after)
    return JobList(data=jobs[:limit], has_more=len(jobs) > limit)


@router.get(
    "/{job_id}",
    response_model=Job,
    responses={
        **NOT_FOUND,
        429: {"description": "The key holds its share of waits already (`rate_limited`)"},
    },
)
async def get_job(
    job_id: str,
    store: StoreDep,
    caller: CallerDep,
    events: EventsDep,
    request: Request,
    wait: Annotated[
        float | None,
        Query(
            gt=0,
            le=MAX_LONG_POLL_SECONDS,
            description="Long poll: answer as soon as the job ends, or after this many seconds "
            "(at most 60) with its state then. A held wait counts against the key's share.",
        ),
    ] = None,
) -> Response | Job:
    """The job, with its result once completed. With `wait`, the answer waits for the job's
    end (a long poll: one request instead of many polls)."""
    job = await run_in_threadpool(store.get_owned, job_id, caller)
    if wait is None or job.status.is_terminal:
        return job
    streams: StreamLimiter = request.app.state.streams
    slot = streams.acquire(caller)
    try:
        ended = await until_hung_up(request, events.ended_within(job_id, wait))
    finally:
        slot.release()
    if ended is None:
        return Response(status_code=CLIENT_CLOSED_REQUEST)  # the caller left; nothing to say
    return await run_in_threadpool(store.get_owned, job_id, caller)


@router.get(
    "/{job_id}/transcript",
    responses={
        **NOT_FOUND,
        409: {"description": "The job has not completed (`job_not_completed`)"},
        200: {
            "description": "The transcript in the asked format",
            "content": {f.media_type.split(";")[0]: {} for f in FORMATS.values()},
        },
    },
)
def get_transcript(
    job_id: str,
    store: StoreDep,
    caller: CallerDep,
    format: Annotated[  # noqa: A002
        str,
        AfterValidator(check_format),
        Query(description="Output format.", json_schema_extra={"enum": list(FORMATS)}),
    ] = "json",
    max_line_width: Annotated[
        int | None, Query(ge=1, le=1000, description="Subtitle characters a line (default 42).")
    ] = None,
    max_line_count: Annotated[
        int | None, Query(ge=1, le=10, description="Subtitle lines a cue (default 2).")
    ] = None,
    max_cue_seconds: Annotated[
        float | None, Query(gt=0, le=3600, description="Subtitle seconds a cue (default 7).")
    ] = None,
) -> Response:
    """The finished transcript: `json` (our result), `verbose_json` (OpenAI's shape), `text`,
    `srt`, `vtt` or `tsv`. Subtitle cues follow the `max_*` limits, by default those of the
    Netflix Timed Text Style Guide (42 characters a line, 2 lines, 7 seconds)."""
    job = store.get_owned(job_id, caller)
    if job.status is not JobStatus.COMPLETED or job.result is None:
        raise JobNotCompleted(f"Job {job_id} is {job.status.value}; no transcript yet.")
    limits = subtitle_limits(max_line_width, max_line_count, max_cue_seconds)
    body = render(job.result, format, limits)
    headers = {"Content-Disposition": f'inline; filename="{download_name(job, format)}"'}
    if isinstance(body, dict):
        return JSONResponse(body, headers=headers)
    return Response(body, media_type=FORMATS[format].media_type, headers=headers)


@router.delete("/{job_id}", status_code=status.HTTP_204_NO_CONTENT, responses=NOT_FOUND)
def delete_job(job_id: str, store: StoreDep, settings: SettingsDep, caller: CallerDep) -> Response:
    """Cancel a queued or running job (a running one stops when the 30-s window being decoded
    ends, a batched one when its batch does); delete a finished job's data (or a stored record
    that can no longer be read)."""
    try:
        job = store.get_owned(job_id, caller, with_result=False)
    except JobNotFound:
        if store.delete_unreadable(job_id, caller):
            return Response(status_code=status.HTTP_204_NO_CONTENT)
        raise
    if job.status.is_terminal:
        for part_id in store.parts.part_ids(job.id):  # a canceled long job's parts' audio
            settings.uploads.remove(part_id)
        store.delete(job)
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    was_queued = job.status is JobStatus.QUEUED
    store.mark_canceled(job_id)
    if was_queued:
        # No worker holds the file yet; a running worker removes its own when it stops.
        settings.uploads.remove(job_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{job_id}/webhook/redeliver",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Job,
    responses={
        **NOT_FOUND,
        409: {"description": "Not ended, or no webhook (`job_not_completed`, `no_webhook`)"},
    },
)
def redeliver_webhook(
    job_id: str, store: StoreDep, producer: ProducerDep, caller: CallerDep
) -> Job:
    """Send the job's final event again (same `webhook-id`), with a fresh attempt schedule."""
    job = store.get_owned(job_id, caller, with_result=False)
    if job.webhook is None:
        raise NoWebhook(f"Job {job_id} has no webhook_url.")
    if not job.status.is_terminal:
        raise JobNotCompleted(f"Job {job_id} is {job.status.value}; its event is not final yet.")

    def again(stored: Job) -> None:
        assert stored.webhook is not None
        stored.webhook.attempts = 0
        stored.webhook.delivered_at = None
        stored.webhook.next_attempt_at = utcnow()

    updated = store.webhooks.record_attempt(job_id, again) or job
    enqueue_webhook(producer, job_id)
    return updated
