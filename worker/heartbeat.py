"""The worker's heartbeat (`app.storage.liveness`): while a Celery worker runs, its main process
writes which queues it consumes every few seconds, so readiness can tell "a worker serves model X"
from one Redis read. A worker that stops removes its entry; one that dies is dropped once stale.

Connected to Celery's `worker_ready` / `worker_shutdown` signals by `worker.celery_app`.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any

import redis

from app.core.config import Settings
from app.core.worker_layout import WorkerLayout
from app.storage import liveness
from app.storage.clients import redis_client

logger = logging.getLogger(__name__)


class Heartbeat:
    def __init__(self, settings: Settings, hostname: str, queues: list[str]) -> None:
        self.client: redis.Redis = redis_client(settings)
        self.hostname = hostname
        self.queues = queues
        self.layout = layout_of(settings)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                liveness.beat(
                    self.client,
                    self.hostname,
                    self.queues,
                    layout=self.layout.summary(),
                    slots=self.layout.slots(),
                )
            except redis.RedisError as e:  # Redis away: readiness will say so; keep beating
                logger.warning("heartbeat not written: %s", e)
            self._stop.wait(liveness.HEARTBEAT_SECONDS)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        with contextlib.suppress(redis.RedisError):  # else the entry goes stale on its own
            liveness.leave(self.client, self.hostname)
        self.client.close()


def layout_of(settings: Settings) -> WorkerLayout:
    """The layout this worker runs with (chosen by `whisper-jobs worker`, or set)."""
    return WorkerLayout(
        settings.batch_jobs,
        settings.model_replicas,
        settings.cpu_threads,
        settings.worker_concurrency,
        why="",
    )


def queues_of(consumer: Any) -> list[str]:
    """The queue names a Celery consumer was started with (`--queues`)."""
    return sorted(consumer.app.amqp.queues.consume_from)
