"""Celery tasks: the thin glue between a queue message (a job id, never audio) and `run_job`."""

from __future__ import annotations

import logging
from functools import cache
from pathlib import Path

import redis
from celery.exceptions import SoftTimeLimitExceeded

from app.config import get_settings
from app.jobs import SWEEP_TASK, TRANSCRIBE_TASK, Job
from app.netguard import UrlPolicy
from app.queue import enqueue_transcription, task_time_limits
from app.store import JobStore
from worker.celery_app import celery_app
from worker.download import download
from worker.engine import EngineConfig, Transcriber, WhisperEngine
from worker.runner import RunPolicy, run_job
from worker.sweep import sweep

logger = logging.getLogger(__name__)


@cache
def runtime() -> tuple[JobStore, Transcriber, Path]:
    """One store and one engine per worker process (the engine keeps its models loaded)."""
    settings = get_settings()
    client = redis.Redis.from_url(settings.require_redis_url())
    store = JobStore(client, settings.result_ttl_seconds)
    engine = WhisperEngine(
        EngineConfig(
            models_dir=settings.models_dir,
            device=settings.device,
            compute_type=settings.compute_type,
            cpu_threads=settings.cpu_threads,
            max_loaded_models=settings.max_loaded_models,
            batch_size=settings.batch_size,
            batch_min_seconds=settings.batch_min_seconds,
            max_audio_seconds=settings.max_audio_seconds,
        )
    )
    return store, engine, settings.uploads_dir


@celery_app.task(name=TRANSCRIBE_TASK)
def transcribe(job_id: str) -> None:
    store, engine, uploads_dir = runtime()
    settings = get_settings()
    policy = RunPolicy(
        max_attempts=settings.max_attempts,
        lease_seconds=settings.job_lease_seconds,
        timeout_errors=(SoftTimeLimitExceeded,),
    )
    url_policy = UrlPolicy.from_settings(settings.allowed_networks, settings.allowed_hosts)

    def fetch(url: str, path: Path) -> None:
        download(url, path, url_policy, settings.max_upload_bytes)

    run_job(job_id, store, engine, uploads_dir / job_id, policy, fetch)


@celery_app.task(name=SWEEP_TASK)
def sweep_stuck_jobs() -> None:
    settings = get_settings()
    store, _, _ = runtime()

    def resend(job: Job) -> None:
        soft, hard = task_time_limits(settings, job.audio_seconds)
        enqueue_transcription(celery_app, job.id, job.options.model, soft, hard)

    report = sweep(store, store.redis, resend, stale_seconds=settings.sweep_interval_seconds)
    if report.resent or report.requeued:
        logger.warning("sweep: %s", report)
