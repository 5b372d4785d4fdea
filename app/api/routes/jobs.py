"""`/v1/jobs`: submit audio, poll a job, fetch its transcript, cancel or delete it."""

from __future__ import annotations

import json
import logging
from typing import Annotated, Any, BinaryIO, Literal

from fastapi import APIRouter, File, Form, Query, Response, UploadFile, status
from fastapi.responses import PlainTextResponse

from app.api.deps import ProducerDep, SettingsDep, StoreDep
from app.errors import (
    EmptyFile,
    InvalidRequest,
    JobNotCompleted,
    ModelNotAvailable,
    QueueUnavailable,
)
from app.jobs import Job, JobOptions, JobStatus, TranscriptResult, new_job_id, utcnow
from app.languages import LANGUAGE_CODES
from app.queue import enqueue_transcription

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/jobs", tags=["jobs"])

MAX_METADATA_BYTES = 16 * 1024
_COPY_CHUNK = 1 << 20

_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such job (`not_found`)"},
}


def _parse_metadata(raw: str | None) -> dict[str, Any] | None:
    if raw is None or raw == "":
        return None
    if len(raw.encode()) > MAX_METADATA_BYTES:
        raise InvalidRequest(f"metadata must be at most {MAX_METADATA_BYTES} bytes of JSON.")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as e:
        raise InvalidRequest(f"metadata is not valid JSON: {e.msg}.") from e
    if not isinstance(value, dict):
        raise InvalidRequest("metadata must be a JSON object.")
    return value


def _check_language(language: str | None) -> str | None:
    if language is None or language == "":
        return None
    code = language.strip().lower()
    if code not in LANGUAGE_CODES:
        raise InvalidRequest(f"language {language!r} is not a language code Whisper knows.")
    return code


def _save_upload(source: BinaryIO, destination: Any) -> int:
    """Copy the spooled upload to the shared data directory in chunks; returns the byte count."""
    written = 0
    with open(destination, "wb") as out:
        while chunk := source.read(_COPY_CHUNK):
            out.write(chunk)
            written += len(chunk)
    return written


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Job,
    responses={
        400: {"description": "Empty upload (`empty_file`)"},
        422: {"description": "Invalid option or unknown model (`model_not_available`)"},
        503: {"description": "The queue is unreachable (`queue_unavailable`)"},
    },
)
def create_job(
    response: Response,
    settings: SettingsDep,
    store: StoreDep,
    producer: ProducerDep,
    file: Annotated[UploadFile, File(description="The audio (any format FFmpeg decodes).")],
    task: Annotated[Literal["transcribe", "translate"], Form()] = "transcribe",
    language: Annotated[
        str | None, Form(description="ISO 639-1 code; absent: detect.", max_length=8)
    ] = None,
    model: Annotated[str | None, Form(description="A model this deployment offers.")] = None,
    word_timestamps: Annotated[bool, Form()] = False,
    vad_filter: Annotated[bool, Form(description="Skip silence with Silero VAD.")] = False,
    beam_size: Annotated[int, Form(ge=1, le=10)] = 5,
    initial_prompt: Annotated[str | None, Form(max_length=2000)] = None,
    metadata: Annotated[
        str | None, Form(description="A JSON object, echoed back on the job.")
    ] = None,
) -> Job:
    """Queue a transcription job for an uploaded file; poll `Location` for its status."""
    model_name = model or settings.model
    if model_name not in settings.models:
        offered = ", ".join(settings.models)
        raise ModelNotAvailable(f"Model {model_name!r} is not available; offered: {offered}.")
    options = JobOptions(
        task=task,
        language=_check_language(language),
        model=model_name,
        word_timestamps=word_timestamps,
        vad_filter=vad_filter,
        beam_size=beam_size,
        initial_prompt=initial_prompt or None,
    )
    job = Job(
        id=new_job_id(),
        status=JobStatus.QUEUED,
        created_at=utcnow(),
        options=options,
        metadata=_parse_metadata(metadata),
        filename=(file.filename or None) and str(file.filename)[:255],
    )
    path = settings.uploads_dir / job.id
    try:
        if _save_upload(file.file, path) == 0:
            raise EmptyFile("The uploaded file is empty.")
        # The record exists before the task does, so a worker never sees an unknown id.
        store.create(job)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    try:
        enqueue_transcription(producer, job.id)
    except Exception as e:
        logger.exception("could not enqueue job %s", job.id)
        store.mark_failed(job.id, QueueUnavailable.code, "The job could not be queued.")
        path.unlink(missing_ok=True)
        raise QueueUnavailable("The job queue is unreachable; try again later.") from e
    response.headers["Location"] = f"/v1/jobs/{job.id}"
    return job


@router.get("/{job_id}", response_model=Job, responses=_ERRORS)
def get_job(job_id: str, store: StoreDep) -> Job:
    """The job, with its result once completed."""
    return store.get_or_raise(job_id)


@router.get(
    "/{job_id}/transcript",
    response_model=TranscriptResult,
    responses={
        **_ERRORS,
        409: {"description": "The job has not completed (`job_not_completed`)"},
        200: {"content": {"text/plain": {}}},
    },
)
def get_transcript(
    job_id: str,
    store: StoreDep,
    format: Annotated[Literal["json", "text"], Query()] = "json",  # noqa: A002
) -> Any:
    """The finished transcript as our JSON result or plain text (one line per segment)."""
    job = store.get_or_raise(job_id)
    if job.status is not JobStatus.COMPLETED or job.result is None:
        raise JobNotCompleted(f"Job {job_id} is {job.status.value}; no transcript yet.")
    if format == "text":
        text = "".join(f"{s.text.strip()}\n" for s in job.result.segments)
        return PlainTextResponse(text)
    return job.result


@router.delete("/{job_id}", status_code=status.HTTP_204_NO_CONTENT, responses=_ERRORS)
def delete_job(job_id: str, store: StoreDep, settings: SettingsDep) -> Response:
    """Cancel a queued or running job (a running one stops at its next segment);
    delete a finished job's data."""
    job = store.get_or_raise(job_id)
    if job.status.is_terminal:
        store.delete(job_id)
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    was_queued = job.status is JobStatus.QUEUED
    store.mark_canceled(job_id)
    if was_queued:
        # No worker holds the file yet; a running worker removes its own when it stops.
        (settings.uploads_dir / job_id).unlink(missing_ok=True)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
