"""The uploads directory: one file per job, named by the job's id, shared by the API (which
writes it) and the worker (which reads it, or downloads `audio_url` there, and removes it).

The one place that knows where a job's audio lives and how it goes away.
"""

from __future__ import annotations

from pathlib import Path


class Uploads:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def ensure(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)

    def path(self, job_id: str) -> Path:
        return self.directory / job_id

    def remove(self, job_id: str) -> None:
        """Gone, whether or not it was there (a job may end before or after its file does)."""
        self.path(job_id).unlink(missing_ok=True)
