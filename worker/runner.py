"""Running one job: mark it processing, call the engine, save the result or the failure.

Idempotent by construction, so late acknowledgement is safe: a redelivered message for a job that
already ended does nothing, and a job that is run again starts over (status, progress and
segments are overwritten, never appended). Each start counts as an attempt; a job that keeps
killing its worker fails with `worker_lost` instead of looping. While it runs, a heartbeat keeps
the job's lease alive, so the recovery sweep can tell a running job from one whose worker
vanished. No Celery here: tested against the real store with any `Transcriber`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TypeVar

from app.contract.errors import (
    WORKER_LOST,
    InvalidTransition,
    JobCanceled,
    JobNotFound,
    WhisperJobsError,
)
from app.contract.jobs import Job, Segment, TranscriptResult
from app.core.uploads import UploadStore, UploadStoreUnavailable
from app.storage.clients import is_redis_unavailable
from app.storage.job_parts import PARTS_OWNER
from app.storage.store import JobStore
from worker.decoding.engine import Transcriber

logger = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class RunPolicy:
    max_attempts: int = 3
    lease_seconds: int = 30
    # Exceptions meaning "the job ran out of time" (Celery's SoftTimeLimitExceeded).
    timeout_errors: tuple[type[BaseException], ...] = field(default=())
    # How long a finished job's result is offered to an unavailable store (a Redis failover
    # takes seconds; decoding the job again takes longer).
    store_retry_seconds: float = 30.0
    # A `time.monotonic()` past which the job stops at its next segment: the soft time limit
    # where Celery cannot raise it (a pool of threads, when jobs are decoded together).
    deadline: float | None = None


class TimeLimitReached(Exception):
    """The job ran past `RunPolicy.deadline`."""


class Heartbeat:
    def __init__(self, store: JobStore, job_id: str, lease_seconds: int) -> None:
        self.store, self.job_id, self.lease_seconds = store, job_id, lease_seconds
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._beat, name=f"lease-{job_id}", daemon=True)

    def _beat(self) -> None:
        while not self.stopped.wait(self.lease_seconds / 3):
            try:
                self.store.hold_lease(self.job_id, self.lease_seconds)
            except Exception:  # a missed beat is not fatal; the next one may get through
                logger.warning("lease heartbeat for job %s failed", self.job_id, exc_info=True)

    def __enter__(self) -> Heartbeat:
        self.store.hold_lease(self.job_id, self.lease_seconds)
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stopped.set()
        self.thread.join()


class LongJobs(Protocol):
    """Runs the jobs it `applies` to in parts across workers (`worker.split_jobs`)."""

    def applies(self, job: Job) -> bool: ...

    def run(self, job: Job) -> TranscriptResult | None: ...


def run_job(
    job_id: str,
    store: JobStore,
    engine: Transcriber,
    uploads: UploadStore,
    policy: RunPolicy | None = None,
    fetch: Callable[[str, Path], object] | None = None,
    long_jobs: LongJobs | None = None,
    stop_if: Callable[[], bool] | None = None,
) -> None:
    """Claim the job, decode it, save the result (or the failure). `fetch(url, path)` downloads
    a job's `audio_url` (the upload's place) before it runs; `long_jobs` runs those it applies to
    in parts; `stop_if()` true stops the job at its next segment, as a cancel does."""
    policy = policy or RunPolicy()
    job = _claim(job_id, store, uploads, policy)
    if job is None:
        return
    # False whenever another run may still need the upload: a teardown mid-job, a Redis outage,
    # a re-queue while running, a result no replica confirmed (the sweep removes it later).
    ended = True
    try:
        with Heartbeat(store, job_id, policy.lease_seconds):
            result = _decode(job, store, engine, uploads, policy, fetch, long_jobs, stop_if)
        if result is None:
            logger.info("job %s ended while its parts ran", job_id)
            return
        ended = _save(job, result, store, policy)
    except (JobCanceled, InvalidTransition):
        # Canceled (or otherwise ended) while running: the store already holds its final status.
        # Or it was queued again (its lease lapsed, e.g. while Redis was away): then the next
        # run needs the upload.
        ended = _has_ended(store, job_id)
        logger.info(
            "job %s %s while running; this run's result is discarded",
            job_id,
            "ended" if ended else "was queued again",
        )
    except WhisperJobsError as e:
        logger.warning("job %s failed: %s: %s", job_id, e.code, e.message)
        _fail(store, job_id, e.code, e.message)
    except (TimeLimitReached, *policy.timeout_errors):  # type: ignore[misc]
        _fail(store, job_id, "timeout", "The job ran past its time limit.")
    except UploadStoreUnavailable as e:
        # The bucket is away: as with the job store, the job is not failed. It stays
        # `processing` until its lease lapses, then the sweep queues it again (one more
        # attempt), and its upload must stay for that run.
        logger.warning("job %s: %s; it will run again", job_id, e)
        ended = False
    except Exception as e:
        if is_redis_unavailable(e):
            # The store went away mid-job (e.g. a failover): not the job's fault, so it is not
            # failed. It stays `processing`; once its lease lapses the sweep queues it again,
            # and its upload must stay for that run.
            logger.warning("job %s: the job store is unavailable; it will run again", job_id)
            ended = False
        else:
            logger.exception("job %s failed unexpectedly", job_id)
            _fail(store, job_id, "internal_error", "The worker hit an unexpected error.")
    except BaseException:
        # Shutdown (SystemExit, a terminate): the message goes back to the queue and the job
        # runs again, so its upload must stay.
        ended = False
        raise
    finally:
        uploads.release(job_id)  # this run's working copy (the upload itself stays till the end)
        if ended:
            uploads.remove(job_id)


def _claim(job_id: str, store: JobStore, uploads: UploadStore, policy: RunPolicy) -> Job | None:
    """The job marked processing (one more attempt), or None when this run must not decode it:
    a part decoded elsewhere, a job gone, ended or running elsewhere, or one that has stopped
    its worker too often (failed here with `worker_lost`)."""
    if _decoded_elsewhere(store, job_id, policy.lease_seconds):
        logger.info("part %s is being decoded elsewhere; skipping", job_id)
        return None
    try:
        job = store.mark_processing(job_id)
    except (JobNotFound, InvalidTransition):
        logger.info("job %s is gone, ended or running elsewhere; skipping", job_id)
        if _has_ended(store, job_id):  # a run elsewhere still needs the audio
            uploads.remove(job_id)
        return None
    if job.attempts > policy.max_attempts:
        message = f"The job stopped its worker {policy.max_attempts} times; it is not retried."
        logger.error("job %s: %s", job_id, message)
        _fail(store, job_id, WORKER_LOST, message)
        uploads.remove(job_id)
        return None
    return job


def _decode(
    job: Job,
    store: JobStore,
    engine: Transcriber,
    uploads: UploadStore,
    policy: RunPolicy,
    fetch: Callable[[str, Path], object] | None,
    long_jobs: LongJobs | None,
    stop_if: Callable[[], bool] | None,
) -> TranscriptResult | None:
    """The job's result (None: a long job that ended while its parts ran). Each segment is
    recorded as it comes; a cancel, `stop_if()` or the deadline stops it at the next one."""
    job_id = job.id

    def on_segment(segment: Segment, progress: float) -> None:
        if not store.record_segment(job_id, segment, progress) or (stop_if and stop_if()):
            raise JobCanceled(f"Job {job_id} was canceled.")
        if policy.deadline is not None and time.monotonic() > policy.deadline:
            raise TimeLimitReached(job_id)

    def on_step(step: str, progress: float) -> None:
        if not store.record_step(job_id, step, progress) or (stop_if and stop_if()):
            raise JobCanceled(f"Job {job_id} was canceled.")
        if policy.deadline is not None and time.monotonic() > policy.deadline:
            raise TimeLimitReached(job_id)

    if job.source_url is not None and fetch is not None:
        fetch(job.source_url, path := uploads.path(job_id))
    else:
        path = uploads.fetch(job_id)  # from the bucket, when uploads live in one
    if long_jobs is not None and long_jobs.applies(job):
        return long_jobs.run(job)
    return engine.transcribe(path, job.options, on_segment, on_step)


def _save(job: Job, result: TranscriptResult, store: JobStore, policy: RunPolicy) -> bool:
    """Mark the job completed, retrying while the store is away; True when its upload may go
    (False: no replica confirmed the result, and a failover could make the job run again)."""
    done, durable = _retrying(
        lambda: store.durably(lambda s: s.mark_completed(job.id, result)),
        policy.store_retry_seconds,
    )
    if not durable:
        # A failover now could lose the result and run the job again, which needs the audio.
        # The sweep removes the upload once it is safe.
        logger.warning("job %s completed, no replica confirmed it yet; its upload stays", job.id)
    seconds = (done.completed_at - job.started_at).total_seconds()  # type: ignore[operator]
    logger.info(
        "job %s completed: %.1f s of audio in %.1f s",
        job.id,
        result.duration,
        seconds,
        extra={"audio_seconds": result.duration, "seconds": seconds},
    )
    return durable


def _decoded_elsewhere(store: JobStore, job_id: str, lease_seconds: int) -> bool:
    """A long job's part is claimed by taking its lease: its queue message and the job's own run
    may both come to decode it. (Other jobs keep their redelivery: a message handed back when
    its worker died is run at once, the dead run's lease notwithstanding.)"""
    job = store.get(job_id, with_result=False)
    return (
        job is not None and job.owner == PARTS_OWNER and not store.take_lease(job_id, lease_seconds)
    )


def _has_ended(store: JobStore, job_id: str) -> bool:
    try:
        job = store.get(job_id, with_result=False)
    except Exception:  # cannot tell: keep the upload (the sweep removes nothing it needs)
        return False
    return job is None or job.status.is_terminal


def _retrying(write: Callable[[], T], seconds: float) -> T:
    """`write()`, again every second while Redis is unavailable, for up to `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return write()
        except Exception as e:
            if not is_redis_unavailable(e) or time.monotonic() >= deadline:
                raise
            logger.warning("the job store is unavailable (%s); trying again", e)
            time.sleep(1.0)


def _fail(store: JobStore, job_id: str, code: str, message: str) -> None:
    try:
        store.mark_failed(job_id, code, message)
    except (JobNotFound, InvalidTransition):
        logger.info("job %s ended elsewhere before it could be marked failed", job_id)
