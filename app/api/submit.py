"""Accepting one upload as a job: store the file, look into it, admit it, queue it.

Kept apart from the router so the order of these steps (which decides what can be lost) reads in
one place: the upload is checked, then stored, then the record is written and the task queued;
any failure before the record exists removes the stored upload.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import logging
import socket
from typing import BinaryIO

from celery import Celery

from app.contract.errors import (
    AudioTooLong,
    EmptyFile,
    InvalidRequest,
    StorageUnavailable,
    UnsupportedMedia,
)
from app.contract.jobs import Job
from app.core.config import Settings
from app.core.netguard import UrlPolicy, addresses_of, check_addresses, split_url
from app.core.object_streams import UploadSink
from app.core.object_uploads import ObjectUploads
from app.core.probe import ProbeResult, probe
from app.core.uploads import UploadStoreUnavailable
from app.storage.broker import task_time_limits, transcription_message
from app.storage.job_creation import Caps
from app.storage.records import dump_job, parse_job
from app.storage.store import JobStore

logger = logging.getLogger(__name__)


def fingerprint(job: Job, content: str) -> str:
    """What makes two submissions "the same request" for Idempotency-Key: every field that
    changes the job (`content`: the file's sha256, or the audio URL)."""
    webhook = job.webhook.model_dump(include={"url", "include_result"}) if job.webhook else None
    request = {
        "options": job.options.model_dump(mode="json"),
        "metadata": job.metadata,
        "content": content,
        "webhook": webhook,
    }
    return hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()


def submit(
    job: Job,
    upload: BinaryIO,
    settings: Settings,
    store: JobStore,
    producer: Celery,
    idempotency_key: str | None,
) -> tuple[Job, bool]:
    """(the job, True) when queued now; (the original job, False) for an idempotent replay.
    `upload`: the request's spooled file, or (uploads in a bucket) the object it streamed into."""
    if isinstance(upload, UploadSink):
        return _submit_streamed(job, upload, settings, store, producer, idempotency_key)
    uploads = settings.uploads
    saved = False
    try:
        # Looked into before it is stored: a refused file never reaches the store.
        if upload.seek(0, io.SEEK_END) == 0:
            raise EmptyFile("The uploaded file is empty.")
        upload.seek(0)
        _admit(job, probe(upload), settings)
        upload.seek(0)
        try:
            _, file_sha256 = uploads.save(job.id, upload)
            saved = True
        except UploadStoreUnavailable as e:
            logger.warning("job %s: upload not stored: %s", job.id, e)
            raise StorageUnavailable("The upload store is unavailable; try again shortly.") from e
        stored = _record(job, settings, store, producer, idempotency_key, file_sha256)
    except BaseException:
        if saved:
            uploads.remove(job.id)
        raise
    if stored.id != job.id:
        uploads.remove(job.id)
        return stored, False
    return job, True


def _submit_streamed(
    job: Job,
    upload: UploadSink,
    settings: Settings,
    store: JobStore,
    producer: Celery,
    idempotency_key: str | None,
) -> tuple[Job, bool]:
    """The upload is in the bucket already (streamed as it arrived): looked into there, by
    ranged reads. Refused, it goes when the request closes its file (`UploadSink.close`)."""
    uploads = settings.uploads
    assert isinstance(uploads, ObjectUploads) and upload.job_id == job.id
    if upload.stored is None:
        upload.seek(0)  # a form whose file part never ended cleanly
    assert upload.stored is not None
    size, file_sha256 = upload.stored
    if size == 0:
        raise EmptyFile("The uploaded file is empty.")
    reader = uploads.reader(job.id, size)
    try:
        probed = probe(io.BufferedReader(reader, 256 * 1024))
    except UnsupportedMedia:
        if reader.error is not None:  # the bucket failed, not the file
            raise StorageUnavailable(
                "The upload store is unavailable; try again shortly."
            ) from reader.error
        raise
    _admit(job, probed, settings)
    stored = _record(job, settings, store, producer, idempotency_key, file_sha256)
    if stored.id != job.id:  # a replay: this request's copy goes with its request
        return stored, False
    upload.keep()
    return job, True


def _admit(job: Job, probed: ProbeResult, settings: Settings) -> None:
    """The probe's findings against the job's options and the caps; the duration noted."""
    job.audio_seconds = probed.duration
    if job.options.channels == "split" and probed.channels not in (0, 2):  # 0: not declared
        raise InvalidRequest(
            f"channels=split needs a stereo recording; this one has {probed.channels} "
            f"channel{'s' if probed.channels != 1 else ''}.",
            param="channels",
        )
    if job.audio_seconds is not None and job.audio_seconds > settings.max_audio_seconds:
        raise AudioTooLong(
            f"The audio lasts {job.audio_seconds:.0f} s; the limit is "
            f"{settings.max_audio_seconds:.0f} s."
        )


def submit_url(
    job: Job, settings: Settings, store: JobStore, producer: Celery, idempotency_key: str | None
) -> tuple[Job, bool]:
    """An `audio_url` job (its URL checked by `check_caller_url` first): checked again, hop by
    hop, when the worker downloads it."""
    assert job.source_url is not None
    stored = _record(job, settings, store, producer, idempotency_key, job.source_url)
    if stored.id != job.id:
        return stored, False
    return job, True


async def check_caller_url(url: str, settings: Settings) -> None:
    """Submit-time SSRF check of a caller-chosen URL: refused now (422) if its host resolves to
    a refused address. A host that does not resolve, or not within `dns_timeout_seconds`, is
    accepted and checked again when used. The lookup runs on the event loop's resolver (its own
    executor), so a slow DNS server holds neither the loop nor the request thread pool."""
    policy = UrlPolicy.from_settings(settings.allowed_networks, settings.allowed_hosts)
    _, host, port = split_url(url)
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), settings.dns_timeout_seconds
        )
    except (OSError, TimeoutError, UnicodeError):
        return
    check_addresses(host, addresses_of(infos), policy)


def _record(
    job: Job,
    settings: Settings,
    store: JobStore,
    producer: Celery,
    idempotency_key: str | None,
    content: str,
) -> Job:
    idempotency = (idempotency_key, fingerprint(job, content)) if idempotency_key else None
    if parse_job(dump_job(job), job.id) is None:  # the reader's own parser, before it is stored
        raise InvalidRequest("The job's fields could not be stored as given.")
    soft, hard = task_time_limits(settings, job.audio_seconds)
    message = transcription_message(producer, job.id, job.options.model, soft, hard)
    # One script: a replay answered (even at the caps), admission, the record and its message
    # (a worker never sees an unknown id, and no job is stored without its message).
    caps = Caps(
        settings.max_active_jobs_per_key, settings.max_active_jobs, settings.max_jobs_per_key
    )
    stored = store.create(job, idempotency, message, caps)
    if stored.id == job.id:
        logger.info("job %s queued", job.id, extra={"job_id": job.id, "model": job.options.model})
    return stored
