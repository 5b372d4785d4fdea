"""Uploads in an S3-compatible bucket (`WHISPER_JOBS_UPLOAD_STORE=s3://bucket/prefix`), for API
and workers that share no disk.

The API streams an upload into the bucket as it arrives, in parts (`app.core.object_streams`;
a failed or refused upload leaves no object). A worker brings the object into its
own data directory as a working copy (written under a temporary name, then renamed: a copy cut
short by a crash is never read), and drops the copy when its run ends. Keys are
`<prefix>/uploads/<job id>`: never a name a caller chose.

Through boto3: its credential chain, retries and signing (nothing here signs a request). The
calls are blocking; the API makes them from its thread pool, as it does Redis calls.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from app.core.object_streams import (
    PARTS_IN_FLIGHT,
    ObjectReader,
    PartsWriter,
    UploadSink,
    bucket_errors,
)
from app.core.settings_errors import ConfigurationError
from app.core.upload_settings import UploadStoreSettings
from app.core.uploads import files_before

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = logging.getLogger(__name__)
#: The read timeout of completing a multipart upload, at least.
COMPLETE_TIMEOUT_SECONDS = 300.0


class ObjectUploads:
    def __init__(self, settings: UploadStoreSettings, directory: Path) -> None:
        where = settings.bucket_and_prefix()
        assert where is not None
        self.bucket, self.prefix = where
        self.directory = directory  # this process's working copies
        self.part_bytes = settings.s3_part_bytes
        self._settings = settings
        self._client: S3Client | None = None
        self._completing: S3Client | None = None
        self._client_pid = 0
        self._lock = threading.Lock()

    @property
    def client(self) -> S3Client:
        """One client per process: a client made before a fork must not serve the child."""
        with self._lock:
            if self._client is None or self._client_pid != os.getpid():
                self._client = self._make_client(self._settings.s3_timeout_seconds)
                self._completing = None
                self._client_pid = os.getpid()
            return self._client

    def completing_client(self) -> S3Client:
        self.client  # noqa: B018 (made anew in a forked child, which resets this one too)
        with self._lock:
            if self._completing is None:
                seconds = max(COMPLETE_TIMEOUT_SECONDS, self._settings.s3_timeout_seconds)
                self._completing = self._make_client(seconds)
            return self._completing

    def _make_client(self, read_timeout: float) -> S3Client:
        s = self._settings
        config = Config(
            connect_timeout=s.s3_timeout_seconds,
            read_timeout=read_timeout,
            retries={"max_attempts": 3, "mode": "standard"},
            # S3-compatible servers on a host name or an address: path-style URLs.
            s3={"addressing_style": "path" if s.s3_endpoint_url else "auto"},
            max_pool_connections=PARTS_IN_FLIGHT * 4,  # several uploads at once
        )
        return boto3.session.Session().client(
            "s3", endpoint_url=s.s3_endpoint_url, region_name=s.s3_region, config=config
        )

    def key(self, job_id: str) -> str:
        return self.prefix + job_id

    def check(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        where = f"the bucket of WHISPER_JOBS_UPLOAD_STORE ({self.bucket})"
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except NoCredentialsError as e:
            raise ConfigurationError(
                f"no AWS credentials for {where}: set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY, a profile, or a role"
            ) from e
        except ClientError as e:
            status = _status(e)
            if status == 404:
                raise ConfigurationError(f"{where} does not exist") from e
            if status in (400, 401, 403):
                raise ConfigurationError(
                    f"{where} refused these AWS credentials (HTTP {status}): check them, and "
                    "WHISPER_JOBS_S3_REGION and WHISPER_JOBS_S3_ENDPOINT_URL"
                ) from e
            logger.warning("the upload store answered %s; starting anyway", status)
        except BotoCoreError as e:  # unreachable now: submissions get 503 until it is back
            logger.warning("the upload store is unreachable (%s); starting anyway", e)

    def save(self, job_id: str, source: BinaryIO) -> tuple[int, str]:
        return self._send(self.key(job_id), source)

    def sink(self, job_id: str) -> UploadSink:
        """A file an upload streams into as it arrives (`app.api.bucket_form`)."""
        return UploadSink(self, self.key(job_id), job_id)

    def reader(self, job_id: str, size: int) -> ObjectReader:
        """The stored upload as a seekable file, read by ranged GETs (the submission's probe)."""
        return ObjectReader(self.client, self.bucket, self.key(job_id), size)

    def path(self, job_id: str) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        return self.directory / job_id

    def fetch(self, job_id: str) -> Path:
        path = self.path(job_id)
        if path.exists():  # written here (a download) or fetched by an earlier run
            return path
        partial = path.with_name(f".{job_id}.part")
        try:
            with bucket_errors(), partial.open("wb") as out:
                self.client.download_fileobj(self.bucket, self.key(job_id), out)
            partial.rename(path)
        finally:
            partial.unlink(missing_ok=True)
        return path

    def publish(self, job_id: str) -> None:
        with self.path(job_id).open("rb") as source:
            self._send(self.key(job_id), source)

    def release(self, job_id: str) -> None:
        self.path(job_id).unlink(missing_ok=True)

    def remove(self, job_id: str) -> None:
        """Never raises: an object that cannot be removed now is the sweep's, later."""
        self.release(job_id)
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self.key(job_id))
        except (BotoCoreError, ClientError) as e:
            logger.warning("upload %s stays in the bucket for the sweep: %s", job_id, e)

    def _send(self, key: str, source: BinaryIO) -> tuple[int, str]:
        writer = PartsWriter(self, key)
        try:
            while chunk := source.read(self.part_bytes):
                writer.write(chunk)
            return writer.finish()
        except BaseException:
            writer.abort()
            raise

    def stored_before(self, cutoff: float, limit: int) -> Iterator[str]:
        yield from files_before(self.directory, cutoff, limit)
        with bucket_errors():
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix, PaginationConfig={"MaxItems": limit}
            )
            for page in pages:
                for item in page.get("Contents", []):
                    if item["LastModified"].timestamp() < cutoff:
                        yield item["Key"][len(self.prefix) :]


def _status(error: ClientError) -> int:
    return int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
