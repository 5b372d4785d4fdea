"""Accepting one upload as a job: store the file, look into it, admit it, queue it.

Kept apart from the router so the order of these steps (which decides what can be lost) reads in
one place: the file is on disk and checked, then the record is written, then the task is queued;
any failure before the record exists removes the file.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import BinaryIO

from celery import Celery

from app.config import Settings
from app.errors import AudioTooLong, EmptyFile, Overloaded, QueueUnavailable, RateLimited
from app.jobs import Job
from app.probe import probe
from app.queue import enqueue_transcription, task_time_limits
from app.store import JobStore

logger = logging.getLogger(__name__)
_COPY_CHUNK = 1 << 20
RETRY_AFTER_SECONDS = 10


def save_upload(source: BinaryIO, destination: Path) -> tuple[int, str]:
    """Copy the spooled upload to the shared data directory in chunks: (bytes, sha256)."""
    written = 0
    digest = hashlib.sha256()
    with destination.open("wb") as out:
        while chunk := source.read(_COPY_CHUNK):
            out.write(chunk)
            digest.update(chunk)
            written += len(chunk)
    return written, digest.hexdigest()


def fingerprint(job: Job, file_sha256: str) -> str:
    """What makes two submissions "the same request" for Idempotency-Key."""
    request = {"options": job.options.model_dump(mode="json"), "metadata": job.metadata,
               "file": file_sha256}  # fmt: skip
    return hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()


def admit(job: Job, settings: Settings, store: JobStore) -> None:
    mine, everyone = store.unfinished_counts(job.owner)
    if everyone >= settings.max_active_jobs:
        raise Overloaded("The service holds too many unfinished jobs; try again later.")
    if mine >= settings.max_active_jobs_per_key:
        raise RateLimited(
            f"This key has {mine} unfinished jobs (the limit is "
            f"{settings.max_active_jobs_per_key}); wait for some to finish.",
            retry_after=RETRY_AFTER_SECONDS,
        )


def submit(
    job: Job,
    upload: BinaryIO,
    settings: Settings,
    store: JobStore,
    producer: Celery,
    idempotency_key: str | None,
) -> tuple[Job, bool]:
    """(the job, True) when queued now; (the original job, False) for an idempotent replay."""
    path = settings.uploads_dir / job.id
    try:
        size, file_sha256 = save_upload(upload, path)
        if size == 0:
            raise EmptyFile("The uploaded file is empty.")
        job.audio_seconds = probe(path).duration
        if job.audio_seconds is not None and job.audio_seconds > settings.max_audio_seconds:
            raise AudioTooLong(
                f"The audio lasts {job.audio_seconds:.0f} s; the limit is "
                f"{settings.max_audio_seconds:.0f} s."
            )
        admit(job, settings, store)
        idempotency = (idempotency_key, fingerprint(job, file_sha256)) if idempotency_key else None
        # The record exists before the task does, so a worker never sees an unknown id.
        stored = store.create(job, idempotency)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    if stored.id != job.id:
        path.unlink(missing_ok=True)
        return stored, False
    try:
        soft, hard = task_time_limits(settings, job.audio_seconds)
        enqueue_transcription(producer, job.id, job.options.model, soft, hard)
    except Exception as e:
        logger.exception("could not enqueue job %s", job.id)
        store.mark_failed(job.id, QueueUnavailable.code, "The job could not be queued.")
        path.unlink(missing_ok=True)
        raise QueueUnavailable("The job queue is unreachable; try again later.") from e
    return job, True
