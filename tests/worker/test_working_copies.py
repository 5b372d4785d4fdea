"""A worker host's own leftovers (uploads in a bucket): copies of ended or vanished jobs go, a
copy a job still runs on stays, and the bucket is never touched from here."""

from __future__ import annotations

import os
import time
from pathlib import Path

from app.contract.jobs import Job, JobOptions, JobStatus, new_job_id, utcnow
from app.core.object_uploads import ObjectUploads
from app.core.upload_settings import UploadStoreSettings
from app.storage.store import JobStore
from worker.working_copies import drop_finished_copies


class CopiesOnly(ObjectUploads):
    """The bucket store, whose `remove` (which would reach the bucket) must not be called."""

    def __init__(self, directory: Path) -> None:
        super().__init__(UploadStoreSettings(upload_store="s3://never-reached"), directory)

    def remove(self, job_id: str) -> None:
        raise AssertionError("the bucket is the sweep's, not this host's")


def make_job(store: JobStore, status: JobStatus) -> str:
    job = Job(id=new_job_id(), status=JobStatus.QUEUED, created_at=utcnow(), options=JobOptions())
    store.create(job)
    if status is not JobStatus.QUEUED:
        store.mark_processing(job.id)
    if status is JobStatus.FAILED:
        store.mark_failed(job.id, "internal_error", "gone wrong")
    return job.id


def test_only_copies_of_ended_or_vanished_jobs_are_dropped(store: JobStore, tmp_path: Path) -> None:
    copies = CopiesOnly(tmp_path)
    running = make_job(store, JobStatus.PROCESSING)
    ended = make_job(store, JobStatus.FAILED)
    vanished = new_job_id()
    young = make_job(store, JobStatus.FAILED)
    an_hour_ago = time.time() - 3600
    for name in (running, ended, vanished, "not-a-job-id"):
        (tmp_path / name).write_bytes(b"x")
        os.utime(tmp_path / name, (an_hour_ago, an_hour_ago))
    (tmp_path / young).write_bytes(b"x")  # its run may have just ended: next pass

    assert drop_finished_copies(store, copies, older_than_seconds=60) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([running, young, "not-a-job-id"])
