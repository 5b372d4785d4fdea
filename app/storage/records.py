"""How a stored job record is read back: by the same parser that checked it at submit, and
leniently where one record could otherwise stop everyone (a listing, the sweep, a scrape).

Only `app.storage.store` (and the submit path, to check a record before it is written) use this; it
touches no Redis key itself.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from app.contract.jobs import JOB_ID_PATTERN, Job

logger = logging.getLogger(__name__)


def parse_job(raw: Any, job_id: str) -> Job | None:
    """A stored record, or None (logged) when it cannot be read: one bad record must never stop
    a listing, a sweep or a scrape for everyone else."""
    try:
        return Job.model_validate_json(raw)
    except (ValueError, RecursionError) as e:
        logger.error("job %s: its stored record cannot be read; skipped (%s)", job_id, str(e)[:200])
        return None


def owner_in(raw: Any) -> str | None:
    """The owner of a record that `parse_job` refused, read leniently (for its removal). The
    last match: `owner` is serialized after `metadata`, which could hold the same text."""
    data = raw if isinstance(raw, bytes) else str(raw).encode()
    found = re.findall(rb'"owner":"((?:[^"\\]|\\.)*)"', data)
    return str(json.loads(b'"' + found[-1] + b'"')) if found else None


def is_job_id(value: str) -> bool:
    return JOB_ID_PATTERN.fullmatch(value) is not None


def dump_job(job: Job) -> str:
    """A job as stored: without its result (kept under its own key, read only when asked)."""
    return job.model_dump_json(exclude={"result"})


def text_of(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
