"""Celery tasks: the thin glue between a queue message (a job id, never audio) and `run_job`."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import redis

from app.config import get_settings
from app.jobs import TRANSCRIBE_TASK
from app.store import JobStore
from worker.celery_app import celery_app
from worker.engine import EngineConfig, Transcriber, WhisperEngine
from worker.runner import run_job


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
        )
    )
    return store, engine, settings.uploads_dir


@celery_app.task(name=TRANSCRIBE_TASK)
def transcribe(job_id: str) -> None:
    store, engine, uploads_dir = runtime()
    run_job(job_id, store, engine, uploads_dir / job_id)
