"""The recovery sweep: no job may stay `queued` or `processing` forever.

- A `queued` job whose task message is gone (Redis lost its queue, a message was purged) is sent
  again.
- A `processing` job whose lease expired (its worker vanished without the message coming back) is
  put back to `queued` and sent again. Its attempt counter still grows, so a job that keeps killing
  workers ends as `worker_lost`.
- An upload whose job ended (or is gone) is removed (from the data directory or the bucket, and
  this host's working copies), once it is older than a sweep: a run keeps
  its audio when no replica confirmed its result, in case a failover makes it run again.
A duplicate message is harmless: the task skips jobs that already ended.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from app.contract.errors import InvalidTransition, JobNotFound
from app.contract.jobs import Job, JobStatus, utcnow
from app.core.uploads import UploadStore, UploadStoreUnavailable
from app.storage.records import is_job_id
from app.storage.store import JobStore

logger = logging.getLogger(__name__)


# At most this many upload files are looked at per sweep (a bounded pass; the next goes on).
UPLOADS_PER_SWEEP = 1000


@dataclass
class SweepReport:
    resent: int = 0
    requeued: int = 0
    uploads_removed: int = 0


def sweep(
    store: JobStore, resend: Callable[[Job], None], stale_seconds: float = 60.0
) -> SweepReport:
    report = SweepReport()
    pending = store.inspect.pending_job_ids()
    cutoff = utcnow() - timedelta(seconds=stale_seconds)
    for job_id in sorted(store.active_ids()):
        job = store.get(job_id, with_result=False)
        if job is None:
            store.forget_active(job_id)
            continue
        if (job.started_at or job.created_at) > cutoff:
            continue  # too young to call stuck: its message may be in flight
        try:
            if job.status is JobStatus.QUEUED and job_id not in pending:
                logger.warning("job %s is queued without a message; sending it again", job_id)
                resend(job)
                report.resent += 1
            elif job.status is JobStatus.PROCESSING and not store.has_lease(job_id):
                logger.warning("job %s lost its worker; queueing it again", job_id)
                resend(store.requeue(job_id))
                report.requeued += 1
        except (JobNotFound, InvalidTransition):
            continue  # it moved on while we looked
    return report


def sweep_uploads(store: JobStore, uploads: UploadStore, older_than_seconds: float) -> int:
    """Remove uploads (and this host's working copies) whose job ended or is gone: how many.
    Only those older than a sweep: a run keeps its copy while it lasts, and a submission stores
    its upload just before its record."""
    cutoff = time.time() - older_than_seconds
    removed = 0
    try:
        for name in uploads.stored_before(cutoff, UPLOADS_PER_SWEEP):
            if not is_job_id(name):
                continue  # not ours
            job = store.get(name, with_result=False)
            if job is None or job.status.is_terminal:
                uploads.remove(name)
                removed += 1
    except UploadStoreUnavailable as e:  # the next sweep goes on
        logger.warning("sweep: %s", e)
    return removed
