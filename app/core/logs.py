"""Logging for every process: the usual text lines, or one JSON object per line
(`WHISPER_JOBS_LOG_FORMAT=json`) for log pipelines, carrying the `job_id` a line is about.

A line gets its `job_id` from `extra={"job_id": ...}`, or from `job_context(job_id)` around the
code that works on one job (a worker task), so library code logging inside it is tagged too.
"""

from __future__ import annotations

import json
import logging
import logging.config
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal

LogFormat = Literal["text", "json"]
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_job_id: ContextVar[str | None] = ContextVar("job_id", default=None)
# What `LogRecord` carries on its own; anything else on a record came from `extra=`.
# `color_message`: uvicorn's copy of a message with ANSI colours, for its own text formatter.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}


@contextmanager
def job_context(job_id: str) -> Iterator[None]:
    token = _job_id.set(job_id)
    try:
        yield
    finally:
        _job_id.reset(token)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        job_id = getattr(record, "job_id", None) or _job_id.get()
        if job_id:
            entry["job_id"] = job_id
        entry |= {k: v for k, v in vars(record).items() if k not in _STANDARD and k != "job_id"}
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def logging_config(log_format: LogFormat = "text", level: str = "INFO") -> dict[str, Any]:
    """A `logging.config.dictConfig` dict: one stderr handler on the root logger in the chosen
    format. uvicorn takes it as `log_config`, so its own and its worker processes' lines (access
    log included) come out the same way."""
    formatter: dict[str, Any] = (
        {"()": f"{__name__}.JsonFormatter"} if log_format == "json" else {"format": TEXT_FORMAT}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": formatter},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "stream": "ext://sys.stderr",
            },
        },
        "root": {"handlers": ["stderr"], "level": level},
        "filters": {
            "probes": {"()": f"{__name__}.ProbeFilter"},
            "sweeps": {"()": f"{__name__}.SweepFilter"},
        },
        "loggers": {
            # uvicorn's loggers: no handlers of their own, so their lines reach the root's.
            **{
                name: {"handlers": [], "propagate": True}
                for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
            },
            "uvicorn.access": {"handlers": [], "propagate": True, "filters": ["probes"]},
            # Each worker's start-up chatter (a line per neighbour search and connection); a
            # lost connection is still said, at WARNING.
            **{
                name: {"level": "WARNING"}
                for name in ("celery.worker.consumer.mingle", "celery.worker.consumer.connection")
            },
            # The recovery sweep runs every minute: Celery's lines for it (sent, received,
            # succeeded) would fill the log; the sweep says itself what it recovers.
            **{
                name: {"filters": ["sweeps"]}
                for name in ("celery.beat", "celery.worker.strategy", "celery.app.trace")
            },
        },
    }


class SweepFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.INFO:
            return True
        text = record.getMessage()
        return "whisper_jobs.sweep" not in text and "sweep-stuck-jobs" not in text


class ProbeFilter(logging.Filter):
    """Drops the access lines of health probes (`/healthz`, `/readyz`): a load balancer or
    compose asks every few seconds, and `serve` asks while it starts."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        return not (len(args) >= 3 and str(args[2]).split("?")[0] in PROBES)


PROBES = frozenset({"/healthz", "/readyz"})


def configure_logging(log_format: LogFormat = "text", level: str = "INFO") -> None:
    logging.config.dictConfig(logging_config(log_format, level))
    logging.captureWarnings(True)  # a library's warning is a log line too, in the same format
