"""Running one job: mark it processing, call the engine, save the result or the failure.

Idempotent by construction: a redelivered message for a job that already ended does nothing, and a
job that is run again starts over (status, progress and result are overwritten, never appended).
No Celery here, so it is tested against the real store with any `Transcriber`.
"""

from __future__ import annotations

import logging
from pathlib import Path

from app.errors import InvalidTransition, JobCanceled, JobNotFound, WhisperJobsError
from app.jobs import Segment
from app.store import JobStore
from worker.engine import Transcriber

logger = logging.getLogger(__name__)


def run_job(job_id: str, store: JobStore, engine: Transcriber, audio_path: Path) -> None:
    try:
        job = store.mark_processing(job_id)
    except (JobNotFound, InvalidTransition):
        logger.info("job %s is gone or already ended; skipping", job_id)
        audio_path.unlink(missing_ok=True)
        return

    def on_segment(segment: Segment, progress: float) -> None:
        if not store.record_segment(job_id, segment, progress):
            raise JobCanceled(f"Job {job_id} was canceled.")

    try:
        result = engine.transcribe(audio_path, job.options, on_segment)
        store.mark_completed(job_id, result)
    except (JobCanceled, InvalidTransition):
        # Canceled (or otherwise ended) while running: the store already holds its final status.
        logger.info("job %s ended while running; result discarded", job_id)
    except WhisperJobsError as e:
        logger.warning("job %s failed: %s: %s", job_id, e.code, e.message)
        _fail(store, job_id, e.code, e.message)
    except Exception:
        logger.exception("job %s failed unexpectedly", job_id)
        _fail(store, job_id, "internal_error", "The worker hit an unexpected error.")
    finally:
        audio_path.unlink(missing_ok=True)


def _fail(store: JobStore, job_id: str, code: str, message: str) -> None:
    try:
        store.mark_failed(job_id, code, message)
    except (JobNotFound, InvalidTransition):
        logger.info("job %s ended elsewhere before it could be marked failed", job_id)
