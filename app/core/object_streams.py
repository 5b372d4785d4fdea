"""Bytes into and out of one bucket object, for `app.core.object_uploads`:

- `PartsWriter`: bytes as they come, sent in parts of `s3_part_bytes`, at most
  `PARTS_IN_FLIGHT` at once (the memory an upload holds: those parts and the one filling up);
  a writer that is not finished is aborted, so it leaves no object.
- `UploadSink`: the file an API request's upload streams into (Starlette writes each chunk of
  the body as it arrives, then "seeks to 0" at the part's end, then closes it). The object
  stays only once the job that holds it is recorded (`keep()`); closed otherwise, it goes.
- `ObjectReader`: a seekable file over ranged GETs, so the submission's probe reads the few
  kilobytes it needs (anywhere in the file) without fetching the object.

Bucket failures come out as `UploadStoreUnavailable` or `UploadMissing` (`bucket_errors`).
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import TYPE_CHECKING, Final, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from app.core.uploads import UploadMissing, UploadStoreUnavailable

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

logger = logging.getLogger(__name__)
_MISSING = frozenset({"404", "NoSuchKey", "NotFound"})
#: Parts of one upload sent at once (each `s3_part_bytes`): with the part filling up, what an
#: upload holds in memory. Measured through the API on loopback against moto, 1 GiB: 1.15x the
#: time of boto3's own `upload_file` to the same server, 39.2 MiB peak RSS growth (BENCHMARKS.md).
PARTS_IN_FLIGHT = 4
#: What boto3's own `upload_file` declares. An upload that declares none gets the store's
#: full-object default instead (CRC64NVME on S3 and moto): the whole object copied and read once
#: more when it is completed, which took moto twice the CPU time for 1 GiB (BENCHMARKS.md).
CHECKSUM: Final = "CRC32"


class Bucket(Protocol):
    """What these need of `ObjectUploads`."""

    bucket: str
    part_bytes: int

    @property
    def client(self) -> S3Client: ...

    def completing_client(self) -> S3Client: ...

    def remove(self, job_id: str) -> None: ...


@contextmanager
def bucket_errors() -> Iterator[None]:
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


class PartsWriter:
    def __init__(self, bucket: Bucket, key: str) -> None:
        self.bucket, self.key = bucket, key
        self.size = 0
        self.digest = hashlib.sha256()
        self._pieces: list[bytes] = []
        self._filled = 0
        self._upload_id: str | None = None
        self._sent: list[Future[CompletedPartTypeDef]] = []
        self._pool: ThreadPoolExecutor | None = None

    def write(self, data: bytes) -> None:
        self.digest.update(data)
        self.size += len(data)
        step = self.bucket.part_bytes
        while self._filled + len(data) >= step:
            # One join per part: the part's bytes are allocated once (a bytearray sliced and
            # copied into bytes held two copies of each part at its hand-over).
            need = step - self._filled
            self._pieces.append(data[:need])
            data = data[need:]
            self._make_room()  # before the join: a part's pieces and its joined bytes coexist
            part = b"".join(self._pieces)
            self._pieces, self._filled = [], 0
            self._send(part)
        if data:
            self._pieces.append(data)
            self._filled += len(data)

    def finish(self) -> tuple[int, str]:
        """(bytes, sha256 hex); nothing is stored for an empty upload."""
        with bucket_errors():
            if self._upload_id is None:
                if self.size:
                    body = b"".join(self._pieces)
                    self.bucket.client.put_object(
                        Bucket=self.bucket.bucket, Key=self.key, Body=body
                    )
            else:
                if self._pieces:
                    self._send(b"".join(self._pieces))
                parts = [f.result() for f in self._sent]
                # Completing a large object can take the store a while (AWS says minutes), and a
                # completion retried after a read timeout may fail where the first succeeded.
                self.bucket.completing_client().complete_multipart_upload(
                    Bucket=self.bucket.bucket,
                    Key=self.key,
                    UploadId=self._upload_id,
                    MultipartUpload={"Parts": parts},
                )
                self._close_pool()
        self._pieces, self._filled = [], 0
        return self.size, self.digest.hexdigest()

    def abort(self) -> None:
        """Never raises: an unfinished upload the store keeps is its lifecycle rule's."""
        self._pieces, self._filled = [], 0
        self._close_pool()
        if self._upload_id is not None:
            try:
                self.bucket.client.abort_multipart_upload(
                    Bucket=self.bucket.bucket, Key=self.key, UploadId=self._upload_id
                )
            except (BotoCoreError, ClientError):
                logger.warning("an upload to the bucket could not be aborted", exc_info=True)
            self._upload_id = None

    def _send(self, chunk: bytes) -> None:
        with bucket_errors():
            if self._upload_id is None:
                created = self.bucket.client.create_multipart_upload(
                    Bucket=self.bucket.bucket, Key=self.key, ChecksumAlgorithm=CHECKSUM
                )
                self._upload_id = created["UploadId"]
                self._pool = ThreadPoolExecutor(PARTS_IN_FLIGHT, thread_name_prefix="s3-part")
            assert self._pool is not None
            self._make_room()
            self._sent.append(self._pool.submit(self._part, len(self._sent) + 1, chunk))

    def _make_room(self) -> None:
        """Waits for the oldest part in flight when `PARTS_IN_FLIGHT` are: the memory bound."""
        if len(self._sent) >= PARTS_IN_FLIGHT:
            with bucket_errors():
                self._sent[-PARTS_IN_FLIGHT].result()

    def _part(self, number: int, chunk: bytes) -> CompletedPartTypeDef:
        assert self._upload_id is not None
        answer = self.bucket.client.upload_part(
            Bucket=self.bucket.bucket,
            Key=self.key,
            UploadId=self._upload_id,
            PartNumber=number,
            # A file, not bytes: botocore joins a bytes body to the request's headers (one more
            # copy of the part for each part in flight); a file it sends in blocks.
            Body=io.BytesIO(chunk),
            ChecksumAlgorithm=CHECKSUM,
        )
        return {
            "ETag": answer["ETag"],
            "PartNumber": number,
            "ChecksumCRC32": answer["ChecksumCRC32"],
        }

    def _close_pool(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class UploadSink:
    """No `_rolled` attribute: Starlette then calls every method from its thread pool, so a
    write that waits for a part in flight never holds the event loop."""

    def __init__(self, bucket: Bucket, key: str, job_id: str) -> None:
        self.bucket, self.job_id = bucket, job_id
        self.writer = PartsWriter(bucket, key)
        self.stored: tuple[int, str] | None = None
        self._kept = self._closed = False

    def write(self, data: bytes) -> int:
        self.writer.write(data)
        return len(data)

    def seek(self, offset: int, whence: int = 0) -> int:  # noqa: ARG002 (always 0 here)
        """Starlette's end of the part: the upload is finished (completed in the bucket)."""
        if self.stored is None:
            self.stored = self.writer.finish()
        return 0

    def keep(self) -> None:
        """The job holding the object is recorded: closing no longer removes it."""
        self._kept = True

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._kept:
            return
        if self.stored is None:
            self.writer.abort()
        elif self.stored[0]:
            self.bucket.remove(self.job_id)


class ObjectReader(io.RawIOBase):
    """One ranged GET per read (wrap it in `io.BufferedReader`). A bucket failure is kept in
    `error`, as the caller (PyAV) may turn any exception into its own."""

    def __init__(self, client: S3Client, bucket: str, key: str, size: int) -> None:
        self.client, self.bucket, self.key, self.size = client, bucket, key, size
        self.position = 0
        self.error: BaseException | None = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        self.position = max(0, base + offset)
        return self.position

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self.position >= self.size:
            return 0
        end = min(self.size, self.position + len(buffer)) - 1
        try:
            with bucket_errors():
                answer = self.client.get_object(
                    Bucket=self.bucket, Key=self.key, Range=f"bytes={self.position}-{end}"
                )
                data = answer["Body"].read()
        except (UploadMissing, UploadStoreUnavailable) as e:
            self.error = e
            raise
        buffer[: len(data)] = data
        self.position += len(data)
        return len(data)
