"""Celery tasks: thin glue between the queue, the job store and the engine.

Idempotent by construction: a redelivered message for a job that already ended does nothing, and a
job that is run again starts over (status, progress and result are overwritten, never appended).
"""

from __future__ import annotations

import logging
from functools import cache
from pathlib import Path

import redis

from app.config import get_settings
from app.errors import InvalidTransition, JobCanceled, JobNotFound, WhisperJobsError
from app.jobs import TRANSCRIBE_TASK
from app.store import JobStore
from worker.celery_app import celery_app
from worker.engine import EngineConfig, Transcriber, WhisperEngine

logger = logging.getLogger(__name__)


@cache
def runtime() -> tuple[JobStore, Transcriber, Path]:
    """One store and one engine per worker process (the engine keeps its models loaded)."""
    settings = get_settings()
    store = JobStore(
        redis.Redis.from_url(settings.require_redis_url()), settings.result_ttl_seconds
    )
    engine = WhisperEngine(
        EngineConfig(
            models_dir=settings.models_dir,
            device=settings.device,
            compute_type=settings.compute_type,
            cpu_threads=settings.cpu_threads,
        )
    )
    return store, engine, settings.uploads_dir


@celery_app.task(name=TRANSCRIBE_TASK)
def transcribe(job_id: str) -> None:
    store, engine, uploads_dir = runtime()
    run_job(job_id, store, engine, uploads_dir / job_id)


def run_job(job_id: str, store: JobStore, engine: Transcriber, audio_path: Path) -> None:
    try:
        job = store.mark_processing(job_id)
    except (JobNotFound, InvalidTransition):
        logger.info("job %s is gone or already ended; skipping", job_id)
        audio_path.unlink(missing_ok=True)
        return

    def on_progress(progress: float) -> None:
        if not store.record_progress(job_id, progress):
            raise JobCanceled(f"Job {job_id} was canceled.")

    try:
        result = engine.transcribe(audio_path, job.options, on_progress)
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
