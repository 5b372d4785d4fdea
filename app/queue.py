"""Celery configuration shared by producer (API) and consumer (worker), and the enqueue call.

The API holds its own Celery app that only sends tasks by name (`send_task`), so it never
imports the worker package or faster-whisper.
"""

from __future__ import annotations

from typing import Any

from celery import Celery

from app.config import Settings
from app.jobs import TRANSCRIBE_QUEUE, TRANSCRIBE_TASK, queue_for

# Must exceed the longest transcription: an unacknowledged message is handed to another worker
# once this passes (acks are late, so a task is acknowledged only after it finished).
VISIBILITY_TIMEOUT_SECONDS = 6 * 3600


def celery_config(settings: Settings) -> dict[str, Any]:
    transport = {"visibility_timeout": VISIBILITY_TIMEOUT_SECONDS}
    return {
        "broker_url": settings.require_redis_url(),
        "broker_transport_options": transport,
        "broker_connection_retry_on_startup": True,
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
    }


def make_producer(settings: Settings) -> Celery:
    app = Celery("whisper_jobs_api")
    app.conf.update(celery_config(settings))
    return app


def enqueue_transcription(producer: Celery, job_id: str, model: str) -> None:
    # ignore_result: Celery would otherwise build a result backend (thread-local, with an import
    # each time) on every call; our results live in the job store.
    producer.send_task(TRANSCRIBE_TASK, args=[job_id], queue=queue_for(model), ignore_result=True)
