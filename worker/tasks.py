"""Celery tasks: the thin glue between a queue message (a job id, never audio) and `run_job`."""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from contextlib import nullcontext
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from celery import Task, signals
from celery.exceptions import SoftTimeLimitExceeded

from app.contract.jobs import SWEEP_TASK, TRANSCRIBE_TASK, WEBHOOK_TASK, Job, utcnow
from app.core.config import Settings, get_settings
from app.core.logs import job_context
from app.core.netguard import UrlPolicy, receiver_of
from app.core.uploads import UploadStore
from app.storage.broker import (
    enqueue_transcription,
    enqueue_webhook,
    task_time_limits,
    transcription_message,
    webhook_notifier,
)
from app.storage.clients import redis_client
from app.storage.kombu_layout import QueuedMessage
from app.storage.liveness import live_workers
from app.storage.store import JobStore
from app.storage.webhook_slots import SlotLimits
from worker.celery_app import celery_app, models_here
from worker.decoding.engine import EngineConfig, WhisperEngine
from worker.decoding.refusals import CallRefused, refuse_calls_of
from worker.download import download
from worker.runner import RunPolicy, run_job
from worker.split_jobs import LongJobSplitter, SplitPolicy
from worker.sweep import sweep, sweep_uploads
from worker.watchdog import HardLimitWatchdog
from worker.webhook_delivery import apply_outcome, deliver

logger = logging.getLogger(__name__)
# Retries sooner than this are a countdown on the queue; later ones wait in the store's due set
# for the sweep, so no countdown ever approaches the visibility timeout.
SHORT_RETRY_SECONDS = 60.0
# An event whose receiver (or key) has all its slots in flight is looked at again after this
# (doubled at most, by jitter): about the time an attempt's slot takes to free at worst is no
# better, and a shorter wait would only spin the queue.
WAIT_TURN_SECONDS = 2.0


def engine_config(settings: Settings) -> EngineConfig:
    """The one place settings become the engine's configuration (`worker.decoding` reads no
    settings of its own)."""
    return EngineConfig(
        models_dir=settings.models_dir,
        device=settings.device,
        compute_type=settings.compute_type,
        cpu_threads=settings.cpu_threads,
        max_loaded_models=settings.max_loaded_models,
        model_idle_seconds=settings.model_idle_seconds or None,
        batch_size=settings.batch_size,
        batch_min_seconds=settings.batch_min_seconds,
        max_audio_seconds=settings.max_audio_seconds,
        batch_jobs=settings.batch_jobs,
        batch_wait_seconds=settings.batch_wait_ms / 1000,
        model_replicas=settings.model_replicas,
    )


@cache
def runtime() -> tuple[JobStore, WhisperEngine, UploadStore]:
    """One store and one engine per worker process (the engine keeps its models loaded)."""
    settings = get_settings()
    client = redis_client(settings)  # explicit timeouts: a frozen Redis is an error, not a hang
    store = JobStore(
        client,
        settings.result_ttl_seconds,
        webhook_notifier(celery_app),
        # A result is confirmed on this many replicas before the job's upload goes.
        min_replicas=settings.redis_min_replicas,
        replica_timeout_ms=settings.redis_replica_timeout_ms,
    )
    engine = WhisperEngine(engine_config(settings))
    engine.models.start_reaper()  # with WHISPER_JOBS_MODEL_IDLE_SECONDS: unloads idle models
    return store, engine, settings.uploads


@signals.worker_process_init.connect
def _preload_in_pool_process(**_: Any) -> None:
    _preload()


@signals.worker_ready.connect
def _preload_in_thread_pool(**_: Any) -> None:
    if get_settings().batch_jobs > 1:  # a pool of threads: no pool processes to start
        _preload()


def _preload() -> None:
    """The default model, loaded as a worker process starts (a job that arrives meanwhile waits
    for the same load), where this worker consumes its queue: not on the first job, which in a
    long job's parts is on every other worker's critical path too."""
    settings = get_settings()
    if not settings.preload_model or settings.model not in models_here:
        return

    def load() -> None:
        try:
            runtime()[1].preload(settings.model)
        except Exception:  # the first job that needs it loads it again, and says why it can't
            logger.exception("preloading model %s failed", settings.model)

    threading.Thread(target=load, name="preload", daemon=True).start()


@celery_app.task(name=TRANSCRIBE_TASK, bind=True)
def transcribe(self: Task[Any, Any], job_id: str) -> None:
    store, engine, uploads = runtime()
    settings = get_settings()
    # Celery enforces time limits in a process pool only: the runner also stops at the soft
    # one, and with a pool of threads the watchdog keeps the hard one.
    hard_limit, soft_limit = self.request.timelimit or (None, None)
    policy = RunPolicy(
        max_attempts=settings.max_attempts,
        lease_seconds=settings.job_lease_seconds,
        timeout_errors=(SoftTimeLimitExceeded, CallRefused),
        deadline=time.monotonic() + soft_limit if soft_limit else None,
    )
    url_policy = UrlPolicy.from_settings(settings.allowed_networks, settings.allowed_hosts)

    def fetch(url: str, path: Path) -> None:
        download(url, path, url_policy, settings.max_upload_bytes)

    def queue_part(part: Job) -> QueuedMessage:
        soft, hard = task_time_limits(settings, part.audio_seconds)
        return transcription_message(celery_app, part.id, part.options.model, soft, hard)

    long_jobs = LongJobSplitter(
        SplitPolicy(
            settings.split_min_seconds,
            settings.split_part_seconds,
            lambda model: live_workers(store.redis).slots.get(model, 0),
        ),
        store,
        uploads,
        engine,
        queue_part,
        lambda part_id, stop: run_job(part_id, store, engine, uploads, policy, stop_if=stop),
    )
    threads = settings.batch_jobs > 1
    guard = watchdog().watching(job_id, hard_limit) if threads and hard_limit else nullcontext()
    with job_context(job_id), guard:
        run_job(job_id, store, engine, uploads, policy, fetch, long_jobs)


@cache
def watchdog() -> HardLimitWatchdog:
    """A job past its hard limit is stopped alone (its next model call refused); if it cannot
    be, the process ends, and the other jobs' attempts are given back first."""
    store = runtime()[0]

    def refund(others: list[str]) -> None:
        for job_id in others:
            store.refund_attempt(job_id)

    return HardLimitWatchdog(stop=refuse_calls_of, before_exit=refund)


@celery_app.task(name=SWEEP_TASK)
def sweep_stuck_jobs() -> None:
    settings = get_settings()
    store, _, _ = runtime()

    def resend(job: Job) -> None:
        soft, hard = task_time_limits(settings, job.audio_seconds)
        enqueue_transcription(celery_app, job.id, job.options.model, soft, hard)

    report = sweep(store, resend, stale_seconds=settings.sweep_interval_seconds)
    report.uploads_removed = sweep_uploads(store, settings.uploads, settings.sweep_interval_seconds)
    if report.resent or report.requeued or report.uploads_removed:
        logger.warning("sweep: %s", report)
    for job_id in store.webhooks.due(utcnow()):  # retries kept in the store, and lost sends
        enqueue_webhook(celery_app, job_id)


@celery_app.task(name=WEBHOOK_TASK)
def deliver_webhook(job_id: str) -> None:
    settings = get_settings()
    store, _, _ = runtime()
    token = uuid.uuid4().hex
    # Claimed before the job is read: a second message for the same event (the sweep's, in the
    # same second as the immediate send) then finds it delivered instead of sending it again.
    # The attempt ends by its deadline, so the claim (deadline + margin) cannot lapse under it.
    if not store.webhooks.claim(job_id, token, claim_seconds(settings)):
        return
    try:
        with job_context(job_id):
            _deliver_webhook(job_id, store, settings)
    finally:
        store.webhooks.release(job_id, token)


def claim_seconds(settings: Settings) -> int:
    return int(settings.webhook_timeout_seconds) + 30


def _deliver_webhook(job_id: str, store: JobStore, settings: Settings) -> None:
    job = store.get(job_id)
    now = utcnow()
    if job is None or job.webhook is None or not job.status.is_terminal:
        store.webhooks.forget(job_id)
        return
    due = job.webhook.next_attempt_at
    if due is None or due > now + timedelta(seconds=1):
        return  # delivered, given up, or not due yet: a duplicate message
    receiver = receiver_of(job.webhook.url)
    limits = SlotLimits(
        settings.webhook_max_in_flight_per_host, settings.webhook_max_in_flight_per_key
    )
    slots = store.webhooks.slots
    if not slots.acquire(job_id, receiver, job.owner, limits, claim_seconds(settings)):
        # This receiver (or this key) has its share of attempts in flight: wait a turn, which
        # costs the event no attempt, and leave the thread to other receivers' events.
        wait = WAIT_TURN_SECONDS * (1 + random.random())  # noqa: S311 - jitter, not a secret
        enqueue_webhook(celery_app, job_id, countdown=wait)
        return
    try:
        _attempt(job, store, settings, now)
    finally:
        slots.release(job_id, receiver, job.owner)


def _attempt(job: Job, store: JobStore, settings: Settings, now: datetime) -> None:
    policy = UrlPolicy.from_settings(settings.allowed_networks, settings.allowed_hosts)
    outcome = deliver(
        job, settings.webhook_secrets(), policy, settings.webhook_timeout_seconds, now
    )
    delay: float | None = None

    def record(stored: Job) -> str:
        nonlocal delay
        delay = apply_outcome(stored, outcome, settings.webhook_retry_schedule, now)
        return "delivered" if outcome.delivered else "gave_up" if delay is None else "retry"

    store.webhooks.record_attempt(job.id, record)
    if delay is not None and delay <= SHORT_RETRY_SECONDS:
        enqueue_webhook(celery_app, job.id, countdown=delay)
