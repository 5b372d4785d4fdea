"""Where a job's audio waits for its worker: one upload per job, named by the job's id. The API
saves it (into a bucket, as it arrives: `app.api.bucket_form`), the worker fetches it (or
downloads `audio_url` in its place) and removes it when the job ends, and the sweep removes
what a crash left behind.

Two stores share one interface: `LocalUploads`, a directory API and workers share (the
default), and `app.core.object_uploads.ObjectUploads`, an S3-compatible bucket with a local
working copy on each worker. The one place that knows where a job's audio lives and how it goes
away; it decides nothing about jobs (the runner and the sweep do).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Protocol

from app.contract.errors import WhisperJobsError

_COPY_CHUNK = 1 << 20


class UploadMissing(WhisperJobsError):
    """The job's upload is not in the store when its worker looks (removed by hand, or by a
    bucket lifecycle rule shorter than the job's wait): the job fails with this code."""

    code = "upload_missing"


class UploadStoreUnavailable(Exception):
    """The store could not be reached or refused to serve: try again later."""


class UploadStore(Protocol):
    #: The local directory of working copies (and, for `LocalUploads`, the uploads themselves).
    directory: Path

    def check(self) -> None:
        """Ready to serve, or `ConfigurationError` naming the setting at fault."""

    def save(self, job_id: str, source: BinaryIO) -> tuple[int, str]:
        """Store the upload read from `source`, streamed: (bytes, sha256 hex)."""

    def path(self, job_id: str) -> Path:
        """The job's local file: where a download or a part is written, and decoding reads."""

    def fetch(self, job_id: str) -> Path:
        """The job's local file, brought from the store if it is not here yet."""

    def publish(self, job_id: str) -> None:
        """A file written at `path()` (a long job's part) made readable by every worker."""

    def release(self, job_id: str) -> None:
        """This run is done with its local file; the stored upload stays."""

    def remove(self, job_id: str) -> None:
        """Gone, local file and stored upload, whether or not they were there."""

    def stored_before(self, cutoff: float, limit: int) -> Iterator[str]:
        """Names of uploads and local files last written before `cutoff` (a `time.time()`)."""


def copy_counting(source: BinaryIO, out: BinaryIO) -> tuple[int, str]:
    """Copy in chunks: (bytes, sha256 hex)."""
    written = 0
    digest = hashlib.sha256()
    while chunk := source.read(_COPY_CHUNK):
        out.write(chunk)
        digest.update(chunk)
        written += len(chunk)
    return written, digest.hexdigest()


def files_before(directory: Path, cutoff: float, limit: int) -> Iterator[str]:
    """Names of at most `limit` files in `directory` last modified before `cutoff`."""
    if not directory.is_dir():
        return
    seen = 0
    for path in directory.iterdir():
        if seen >= limit:
            return
        seen += 1
        try:
            if path.is_file() and path.stat().st_mtime < cutoff:
                yield path.name
        except FileNotFoundError:
            continue


class LocalUploads:
    """A directory shared by the API and the workers (the data directory's `uploads/`)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def check(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)

    def save(self, job_id: str, source: BinaryIO) -> tuple[int, str]:
        try:
            with self.path(job_id).open("wb") as out:
                return copy_counting(source, out)
        except BaseException:
            self.remove(job_id)  # a disk that filled up keeps no part of it
            raise

    def path(self, job_id: str) -> Path:
        return self.directory / job_id

    def fetch(self, job_id: str) -> Path:
        path = self.path(job_id)
        if not path.exists():
            raise UploadMissing("The job's upload is no longer stored.")
        return path

    def publish(self, job_id: str) -> None:
        """Already where every worker reads."""

    def release(self, job_id: str) -> None:
        """The local file is the upload: it stays until `remove`."""

    def remove(self, job_id: str) -> None:
        self.path(job_id).unlink(missing_ok=True)

    def stored_before(self, cutoff: float, limit: int) -> Iterator[str]:
        return files_before(self.directory, cutoff, limit)
