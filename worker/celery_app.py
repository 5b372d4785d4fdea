"""The worker's Celery app: `celery -A worker.celery_app worker` (or `whisper-jobs worker`)."""

from __future__ import annotations

from typing import Any

from celery import Celery, signals

from app.config import get_settings
from app.logs import configure_logging
from app.queue import celery_config
from worker.heartbeat import Heartbeat, queues_of


@signals.setup_logging.connect
def _configure_logging(**_: Any) -> None:
    """Connected, so Celery leaves logging to us: the same text or JSON lines as the API."""
    settings = get_settings()
    configure_logging(settings.log_format, settings.log_level)


celery_app = Celery("whisper_jobs", include=["worker.tasks"])
celery_app.conf.update(celery_config(get_settings()))
app = celery_app


_heartbeat: Heartbeat | None = None


@signals.worker_ready.connect
def _start_heartbeat(sender: Any, **_: Any) -> None:
    global _heartbeat
    _heartbeat = Heartbeat(get_settings(), str(sender.hostname), queues_of(sender))
    _heartbeat.start()


@signals.worker_shutdown.connect
def _stop_heartbeat(**_: Any) -> None:
    if _heartbeat is not None:
        _heartbeat.stop()
