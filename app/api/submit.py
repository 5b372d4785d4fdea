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
from app.errors import (
    AudioTooLong,
    EmptyFile,
    Overloaded,
    QueueUnavailable,
    RateLimited,
    UrlNotAllowed,
)
from app.jobs import Job
from app.netguard import UrlPolicy, check_url, resolve, split_url
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


def fingerprint(job: Job, content: str) -> str:
    """What makes two submissions "the same request" for Idempotency-Key (`content`: the file's
    sha256, or the audio URL)."""
    request = {"options": job.options.model_dump(mode="json"), "metadata": job.metadata,
               "content": content}  # fmt: skip
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
        stored = _record(job, settings, store, idempotency_key, file_sha256)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    if stored.id != job.id:
        path.unlink(missing_ok=True)
        return stored, False
    _enqueue(job, settings, store, producer)
    return job, True


def submit_url(
    job: Job, settings: Settings, store: JobStore, producer: Celery, idempotency_key: str | None
) -> tuple[Job, bool]:
    """An `audio_url` job: the URL is checked now when its host resolves (refused addresses are
    422 at once), and again, hop by hop, when the worker downloads it."""
    assert job.source_url is not None
    check_caller_url(job.source_url, settings)
    stored = _record(job, settings, store, idempotency_key, job.source_url)
    if stored.id != job.id:
        return stored, False
    _enqueue(job, settings, store, producer)
    return job, True


def check_caller_url(url: str, settings: Settings) -> None:
    """Submit-time SSRF check of a caller-chosen URL: refused now if its host already resolves
    to a refused address; a host that does not resolve yet is checked again when used."""
    policy = UrlPolicy.from_settings(settings.allowed_networks, settings.allowed_hosts)
    _, host, port = split_url(url)
    try:
        check_url(url, policy)
    except UrlNotAllowed:
        if _resolves(host, port):
            raise


def _resolves(host: str, port: int) -> bool:
    try:
        resolve(host, port)
    except UrlNotAllowed:
        return False
    return True


def _record(
    job: Job, settings: Settings, store: JobStore, idempotency_key: str | None, content: str
) -> Job:
    admit(job, settings, store)
    idempotency = (idempotency_key, fingerprint(job, content)) if idempotency_key else None
    # The record exists before the task does, so a worker never sees an unknown id.
    return store.create(job, idempotency)


def _enqueue(job: Job, settings: Settings, store: JobStore, producer: Celery) -> None:
    try:
        soft, hard = task_time_limits(settings, job.audio_seconds)
        enqueue_transcription(producer, job.id, job.options.model, soft, hard)
        logger.info("job %s queued", job.id, extra={"job_id": job.id, "model": job.options.model})
    except Exception as e:
        logger.exception("could not enqueue job %s", job.id)
        store.mark_failed(job.id, QueueUnavailable.code, "The job could not be queued.")
        (settings.uploads_dir / job.id).unlink(missing_ok=True)
        raise QueueUnavailable("The job queue is unreachable; try again later.") from e
