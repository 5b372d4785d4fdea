"""The worker's Celery app: `celery -A worker.celery_app worker` (or `whisper-jobs worker`)."""

from __future__ import annotations

import json
import logging
import os
import sys
import warnings
from datetime import UTC, datetime
from typing import Any

import celery.apps.worker
from celery import Celery, signals
from celery.exceptions import SecurityWarning

from app.contract.jobs import queue_for
from app.core.config import get_settings
from app.core.logs import configure_logging
from app.storage.broker import celery_config
from worker.decoding.weights import prepare_models
from worker.heartbeat import Heartbeat, queues_of
from worker.working_copies import WorkingCopySweeper


@signals.setup_logging.connect
def _configure_logging(**_: Any) -> None:
    """Connected, so Celery leaves logging to us: the same text or JSON lines as the API."""
    settings = get_settings()
    configure_logging(settings.log_format, settings.log_level)


def _say_as_json(message: str, f: Any = sys.__stderr__) -> None:
    """Celery's `safe_say` (the lines its signal handlers print, e.g. "Warm shutdown") as one
    JSON line. Still a single `os.write`, as in Celery: logging is not safe in a signal handler."""
    line = {
        "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "level": "WARNING",
        "logger": "celery.apps.worker",
        "message": message,
    }
    os.write(f.fileno(), (json.dumps(line) + "\n").encode())


# Configured at import too: Celery warns (e.g. its SecurityWarning) before `setup_logging` fires.
_configure_logging()
# Celery's 8-line SecurityWarning about running as root, said in one line instead (below).
warnings.filterwarnings("ignore", message=".*superuser privileges", category=SecurityWarning)


@signals.worker_init.connect
def _say_root(**_: Any) -> None:
    if os.geteuid() == 0:
        logging.getLogger(__name__).warning(
            "running as root: the images run as uid 10001; prefer an unprivileged user"
        )


if get_settings().log_format == "json":
    celery.apps.worker.safe_say = _say_as_json  # type: ignore[attr-defined]


celery_app = Celery("whisper_jobs", include=["worker.tasks"])
celery_app.conf.update(celery_config(get_settings()))
app = celery_app


_heartbeat: Heartbeat | None = None
_copies: WorkingCopySweeper | None = None


@signals.worker_ready.connect
def _start_heartbeat(sender: Any, **_: Any) -> None:
    global _heartbeat, _copies
    settings = get_settings()
    _heartbeat = Heartbeat(settings, str(sender.hostname), queues_of(sender))
    _heartbeat.start()
    if settings.upload_store is not None:  # uploads in a bucket: this host's copies are its own
        _copies = WorkingCopySweeper(settings)
        _copies.start()


@signals.worker_shutdown.connect
def _stop_heartbeat(**_: Any) -> None:
    if _heartbeat is not None:
        _heartbeat.stop()
    if _copies is not None:
        _copies.stop()


# The models this worker consumes the queues of (set as it starts).
models_here: list[str] = []


@signals.worker_init.connect
def _prepare_models(sender: Any, **_: Any) -> None:
    """Bundled models are assembled and verified as the worker starts (in its main process,
    before the pool forks), with a log line each; not silently on the first job."""
    consumed = set(queues_of(sender))
    settings = get_settings()
    wanted = [m for m in settings.models if not consumed or queue_for(m) in consumed]
    prepare_models(wanted, settings.models_dir)
    models_here[:] = wanted  # inherited by the pool's processes
