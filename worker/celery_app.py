"""The worker's Celery app: `celery -A worker.celery_app worker` (or `whisper-jobs worker`)."""

from __future__ import annotations

from typing import Any

from celery import Celery, signals

from app.config import get_settings
from app.logs import configure_logging
from app.queue import celery_config


@signals.setup_logging.connect
def _configure_logging(**_: Any) -> None:
    """Connected, so Celery leaves logging to us: the same text or JSON lines as the API."""
    settings = get_settings()
    configure_logging(settings.log_format, settings.log_level)


celery_app = Celery("whisper_jobs", include=["worker.tasks"])
celery_app.conf.update(celery_config(get_settings()))
app = celery_app
