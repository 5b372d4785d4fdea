"""The worker's Celery app: `celery -A worker.celery_app worker` (or `whisper-jobs worker`)."""

from __future__ import annotations

import logging

from celery import Celery

from app.config import get_settings
from app.queue import celery_config

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

celery_app = Celery("whisper_jobs", include=["worker.tasks"])
celery_app.conf.update(celery_config(get_settings()))
app = celery_app
