"""Celery configuration shared by producer (API) and consumer (worker), and the enqueue call.

The API holds its own Celery app that only sends tasks by name (`send_task`), so it never
imports the worker package or faster-whisper.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from celery import Celery

from app.contract.jobs import (
    MAINTENANCE_QUEUE,
    SWEEP_TASK,
    TRANSCRIBE_QUEUE,
    TRANSCRIBE_TASK,
    WEBHOOK_QUEUE,
    WEBHOOK_TASK,
    Job,
    queue_for,
)
from app.core.config import Settings
from app.storage.clients import sentinel_options
from app.storage.kombu_layout import QueuedMessage, redis_envelope

logger = logging.getLogger(__name__)

# Must exceed the longest transcription: an unacknowledged message is handed to another worker
# once this passes (acks are late, so a task is acknowledged only after it finished).
VISIBILITY_TIMEOUT_SECONDS = 6 * 3600
HARD_LIMIT_GRACE_SECONDS = 60
# The producer's connection pool: a sender waits at most this long for a free connection, then
# fails (503 at the HTTP edge) instead of hanging a request thread for good.
BROKER_POOL_LIMIT = 20
BROKER_POOL_WAIT_SECONDS = 5.0


def task_time_limits(settings: Settings, audio_seconds: float | None) -> tuple[int, int]:
    """(soft, hard) time limit of a job: proportional to its audio, within floor and ceiling."""
    if audio_seconds is None:
        soft = settings.task_time_limit_max_seconds
    else:
        soft = int(audio_seconds * settings.task_seconds_per_audio_second)
        soft = max(settings.task_time_limit_min_seconds, soft)
        soft = min(settings.task_time_limit_max_seconds, soft)
    return soft, soft + HARD_LIMIT_GRACE_SECONDS


def celery_config(settings: Settings) -> dict[str, Any]:
    longest = settings.task_time_limit_max_seconds + HARD_LIMIT_GRACE_SECONDS
    if longest >= VISIBILITY_TIMEOUT_SECONDS:
        # Past the visibility timeout Redis hands an unacknowledged job to a second worker.
        raise ValueError(
            f"the longest job ({longest} s with its grace) must stay below the Redis "
            f"visibility timeout ({VISIBILITY_TIMEOUT_SECONDS} s): lower "
            "WHISPER_JOBS_TASK_TIME_LIMIT_MAX_SECONDS"
        )
    transport: dict[str, Any] = {
        "visibility_timeout": VISIBILITY_TIMEOUT_SECONDS,
        # Explicit timeouts: a frozen Redis is an error within seconds, never a hang.
        "socket_timeout": settings.redis_socket_timeout_seconds,
        "socket_connect_timeout": settings.redis_connect_timeout_seconds,
    }
    target = settings.sentinel_target()
    if target is not None:
        # kombu's `sentinel://` transport reads the same URL; it asks these for the primary.
        transport["master_name"] = target.master
        transport["sentinel_kwargs"] = sentinel_options(settings)
    return {
        "broker_url": settings.require_redis_url(),
        # Celery reads the visibility timeout in three places; they must agree.
        "broker_transport_options": transport,
        "result_backend_transport_options": transport,
        "visibility_timeout": VISIBILITY_TIMEOUT_SECONDS,
        "broker_connection_retry_on_startup": True,
        "broker_pool_limit": BROKER_POOL_LIMIT,
        "broker_connection_timeout": settings.redis_connect_timeout_seconds,
        # Results live in our own job store; Celery's result backend is not used.
        "task_ignore_result": True,
        "result_backend": None,
        "task_default_queue": TRANSCRIBE_QUEUE,
        # A job is acknowledged only when it ended, and a worker takes one job at a time, so a
        # worker that dies mid-job leaves its message to be redelivered, not lost.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        # On a lost broker connection the running task's message is redelivered anyway (it was
        # never acked); cancel the task rather than let two workers run the same job.
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        "task_serializer": "json",
        "accept_content": ["json"],
        "worker_hijack_root_logger": False,
        # The recovery sweep (run by `whisper-jobs beat`, or inside `serve`).
        "beat_schedule": {
            "sweep-stuck-jobs": {
                "task": SWEEP_TASK,
                "schedule": settings.sweep_interval_seconds,
                "options": {"queue": MAINTENANCE_QUEUE, "expires": settings.sweep_interval_seconds},
            }
        },
    }


def make_producer(settings: Settings) -> Celery:
    app = Celery("whisper_jobs_api")
    app.conf.update(celery_config(settings))
    return app


def enqueue_transcription(
    producer: Celery, job_id: str, model: str, soft_limit: int, hard_limit: int
) -> None:
    # ignore_result: Celery would otherwise build a result backend (thread-local, with an import
    # each time) on every call; our results live in the job store.
    _send(
        producer,
        TRANSCRIBE_TASK,
        args=[job_id],
        queue=queue_for(model),
        ignore_result=True,
        soft_time_limit=soft_limit,
        time_limit=hard_limit,
    )


def transcription_message(
    producer: Celery, job_id: str, model: str, soft_limit: int, hard_limit: int
) -> QueuedMessage:
    """The message `enqueue_transcription` sends, built by Celery's own code but not sent: the
    job store pushes it in the transaction that creates the job."""
    from kombu.serialization import dumps

    task_id = str(uuid.uuid4())
    args: Any = [job_id]  # a list, as `send_task` sends it (its argsrepr is read back)
    message = producer.amqp.as_task_v2(
        task_id,
        TRANSCRIBE_TASK,
        args=args,
        kwargs={},
        ignore_result=True,
        time_limit=hard_limit,
        soft_time_limit=soft_limit,
    )
    content_type, content_encoding, body = dumps(message.body, serializer="json")
    properties = {**message.properties, "reply_to": producer.thread_oid}
    return redis_envelope(
        queue_for(model), body, content_type, content_encoding, message.headers, properties
    )


def enqueue_webhook(producer: Celery, job_id: str, countdown: float = 0.0) -> None:
    # Countdowns stay short (the caller keeps long waits in the store for the sweep), so Redis'
    # visibility timeout can never make a delivery run twice.
    _send(
        producer,
        WEBHOOK_TASK,
        args=[job_id],
        queue=WEBHOOK_QUEUE,
        ignore_result=True,
        countdown=countdown,
    )


def _send(producer: Celery, name: str, **options: Any) -> None:
    """`send_task` with a bounded wait for a pooled connection (Celery's own wait has none:
    kombu raises `LimitExceeded` after `BROKER_POOL_WAIT_SECONDS` here)."""
    with producer.producer_pool.acquire(block=True, timeout=BROKER_POOL_WAIT_SECONDS) as pooled:
        producer.send_task(name, producer=pooled, **options)


def webhook_notifier(producer: Celery) -> Callable[[Job], None]:
    """The store's `on_terminal` hook: send a finished job's webhook at once. If sending fails,
    the job is still in the store's due set, and the sweep sends it."""

    def notify(job: Job) -> None:
        if job.webhook is not None:
            try:
                enqueue_webhook(producer, job.id)
            except Exception:
                logger.warning("could not queue the webhook of job %s now", job.id, exc_info=True)

    return notify
