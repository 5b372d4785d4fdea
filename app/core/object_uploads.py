"""Uploads in an S3-compatible bucket (`WHISPER_JOBS_UPLOAD_STORE=s3://bucket/prefix`), for API
and workers that share no disk.

The API streams an upload into the bucket in parts of `s3_part_bytes` (one part in memory at a
time; a failed upload is aborted, so it leaves no object). A worker brings the object into its
own data directory as a working copy (written under a temporary name, then renamed: a copy cut
short by a crash is never read), and drops the copy when its run ends. Keys are
`<prefix>/uploads/<job id>`: never a name a caller chose.

Through boto3: its credential chain, retries and signing (nothing here signs a request). The
calls are blocking; the API makes them from its thread pool, as it does Redis calls.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from app.core.settings_errors import ConfigurationError
from app.core.upload_settings import UploadStoreSettings
from app.core.uploads import UploadMissing, UploadStoreUnavailable, files_before

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

logger = logging.getLogger(__name__)
_MISSING = frozenset({"404", "NoSuchKey", "NotFound"})
#: Parts of one upload sent at once (each `s3_part_bytes`). Measured on loopback against moto,
#: 1 GiB: one at a time 2.58x the time of boto3's own `upload_file`, four 2.22x (48.6 MiB peak
#: RSS growth), eight parts of 5 MiB about 2.5x: the store and the request's own receiving bound
#: it, not this number (BENCHMARKS.md).
PARTS_IN_FLIGHT = 4
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

    def _completing_client(self) -> S3Client:
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
        with _unavailable_on_error():
            return self._upload(self.key(job_id), source)

    def path(self, job_id: str) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        return self.directory / job_id

    def fetch(self, job_id: str) -> Path:
        path = self.path(job_id)
        if path.exists():  # written here (a download) or fetched by an earlier run
            return path
        partial = path.with_name(f".{job_id}.part")
        try:
            with _unavailable_on_error(), partial.open("wb") as out:
                self.client.download_fileobj(self.bucket, self.key(job_id), out)
            partial.rename(path)
        finally:
            partial.unlink(missing_ok=True)
        return path

    def publish(self, job_id: str) -> None:
        with _unavailable_on_error(), self.path(job_id).open("rb") as source:
            self._upload(self.key(job_id), source)

    def release(self, job_id: str) -> None:
        self.path(job_id).unlink(missing_ok=True)

    def remove(self, job_id: str) -> None:
        """Never raises: an object that cannot be removed now is the sweep's, later."""
        self.release(job_id)
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self.key(job_id))
        except (BotoCoreError, ClientError) as e:
            logger.warning("upload %s stays in the bucket for the sweep: %s", job_id, e)

    def stored_before(self, cutoff: float, limit: int) -> Iterator[str]:
        yield from files_before(self.directory, cutoff, limit)
        with _unavailable_on_error():
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix, PaginationConfig={"MaxItems": limit}
            )
            for page in pages:
                for item in page.get("Contents", []):
                    if item["LastModified"].timestamp() < cutoff:
                        yield item["Key"][len(self.prefix) :]

    def _upload(self, key: str, source: BinaryIO) -> tuple[int, str]:
        """At most `PARTS_IN_FLIGHT` parts sent at once, and one more read: the memory an
        upload holds. A multipart upload that fails is aborted."""
        chunk = source.read(self.part_bytes)
        digest = hashlib.sha256(chunk)
        if len(chunk) < self.part_bytes:  # one request for what fits in one part
            self.client.put_object(Bucket=self.bucket, Key=key, Body=chunk)
            return len(chunk), digest.hexdigest()
        upload_id = self.client.create_multipart_upload(Bucket=self.bucket, Key=key)["UploadId"]
        try:
            size = 0
            sent: list[Future[CompletedPartTypeDef]] = []
            with ThreadPoolExecutor(PARTS_IN_FLIGHT, thread_name_prefix="s3-part") as pool:
                while chunk:
                    if len(sent) >= PARTS_IN_FLIGHT:
                        sent[-PARTS_IN_FLIGHT].result()  # the oldest in flight: memory bound
                    sent.append(pool.submit(self._part, key, upload_id, len(sent) + 1, chunk))
                    size += len(chunk)
                    chunk = source.read(self.part_bytes)
                    digest.update(chunk)
                parts = [f.result() for f in sent]
            # Completing a large object can take the store a while (AWS says minutes), and a
            # completion retried after a read timeout may fail where the first succeeded.
            self._completing_client().complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
            return size, digest.hexdigest()
        except BaseException:
            try:
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            except (BotoCoreError, ClientError):
                logger.warning("an upload to the bucket could not be aborted", exc_info=True)
            raise

    def _part(self, key: str, upload_id: str, number: int, chunk: bytes) -> CompletedPartTypeDef:
        answer = self.client.upload_part(
            Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=chunk
        )
        return {"ETag": answer["ETag"], "PartNumber": number}


@contextmanager
def _unavailable_on_error() -> Iterator[None]:
    """The bucket's failures as `UploadMissing` (no such object) or `UploadStoreUnavailable`
    (anything else: unreachable, refusing, timing out)."""
    try:
        yield
    except ClientError as e:
        code = str(e.response.get("Error", {}).get("Code", ""))
        if code in _MISSING:
            raise UploadMissing("The job's upload is no longer stored.") from e
        raise UploadStoreUnavailable(f"the upload store refused: {code}") from e
    except BotoCoreError as e:
        raise UploadStoreUnavailable(f"the upload store is unreachable: {e}") from e


def _status(error: ClientError) -> int:
    return int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
