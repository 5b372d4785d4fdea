"""The bucket store against a real S3-protocol server (moto's, signatures checked): what it
keeps, what a failure leaves (nothing), and how it says the bucket is away or unusable."""

from __future__ import annotations

import hashlib
import io
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.core.object_uploads import ObjectUploads
from app.core.settings_errors import ConfigurationError
from app.core.upload_settings import MIN_PART_BYTES, UploadStoreSettings
from app.core.uploads import UploadMissing, UploadStoreUnavailable
from tests.s3_server import S3Server


def store_for(s3: S3Server, tmp_path: Path, prefix: str, **settings: object) -> ObjectUploads:
    config = UploadStoreSettings(
        upload_store=f"s3://{s3.bucket}/{prefix}",
        s3_endpoint_url=s3.url,
        s3_region="us-east-1",
        **settings,  # type: ignore[arg-type]
    )
    return ObjectUploads(config, tmp_path / "copies")


@pytest.fixture
def uploads(
    s3: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ObjectUploads]:
    for name, value in s3.env("unit").items():
        if name.startswith("AWS_"):
            monkeypatch.setenv(name, value)
    store = store_for(s3, tmp_path, "unit", s3_part_bytes=MIN_PART_BYTES, s3_timeout_seconds=1)
    yield store
    for key in s3.keys("unit/"):  # each test starts from an empty prefix
        s3.client().delete_object(Bucket=s3.bucket, Key=key)


class FailingReader(io.RawIOBase):
    """Gives `fail_after` bytes, then fails as a dropped connection would."""

    def __init__(self, fail_after: int) -> None:
        self.left = fail_after

    def read(self, size: int = -1) -> bytes:
        if self.left <= 0:
            raise ConnectionResetError("the client went away")
        n = min(size if size > 0 else self.left, self.left)
        self.left -= n
        return bytes(n)


def test_a_multipart_upload_keeps_every_byte_under_the_jobs_key(
    uploads: ObjectUploads, s3: S3Server
) -> None:
    body = bytes(range(256)) * (MIN_PART_BYTES * 2 // 256 + 999)  # three parts, the last short
    size, digest = uploads.save("job1", io.BytesIO(body))
    assert (size, digest) == (len(body), hashlib.sha256(body).hexdigest())
    assert s3.keys("unit/") == ["unit/uploads/job1"]
    assert uploads.fetch("job1").read_bytes() == body
    uploads.release("job1")
    assert list(uploads.directory.iterdir()) == []
    assert s3.keys("unit/") == ["unit/uploads/job1"]  # a release keeps the upload
    uploads.remove("job1")
    assert s3.keys("unit/") == []


def test_an_upload_cut_short_leaves_no_object_and_no_unfinished_upload(
    uploads: ObjectUploads, s3: S3Server
) -> None:
    with pytest.raises(ConnectionResetError):
        uploads.save("job2", FailingReader(MIN_PART_BYTES * 2 + 10))  # mid third part
    assert s3.keys("unit/") == []
    assert s3.unfinished_uploads() == 0


def test_a_missing_upload_is_said_and_leaves_no_partial_copy(uploads: ObjectUploads) -> None:
    with pytest.raises(UploadMissing) as raised:
        uploads.fetch("never-stored")
    assert raised.value.code == "upload_missing"
    assert list(uploads.directory.iterdir()) == []


def test_a_frozen_store_is_unavailable_not_a_hang_and_removal_never_raises(
    uploads: ObjectUploads, s3: S3Server
) -> None:
    uploads.save("job3", io.BytesIO(b"abc"))
    with s3.frozen():
        with pytest.raises(UploadStoreUnavailable):
            uploads.save("job4", io.BytesIO(b"abc"))
        with pytest.raises(UploadStoreUnavailable):
            uploads.fetch("job3")
        uploads.remove("job3")  # logged: if the request never arrives, the sweep removes it
    assert list(uploads.directory.iterdir()) == []


def test_the_sweep_sees_old_uploads_and_copies_of_its_own_prefix_only(
    uploads: ObjectUploads, s3: S3Server, tmp_path: Path
) -> None:
    other = store_for(s3, tmp_path / "other", "another-deployment")
    other.save("theirs", io.BytesIO(b"x"))
    uploads.save("old", io.BytesIO(b"x"))
    uploads.path("copy").write_bytes(b"x")
    cutoff = time.time() + 1  # everything so far is older than this
    assert sorted(uploads.stored_before(cutoff, 100)) == ["copy", "old"]
    assert list(uploads.stored_before(cutoff - 3600, 100)) == []
    other.remove("theirs")


def test_a_bucket_it_cannot_use_is_refused_naming_the_setting(
    s3: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong")
    with pytest.raises(ConfigurationError, match="WHISPER_JOBS_UPLOAD_STORE.*refused"):
        store_for(s3, tmp_path, "unit").check()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3.admin[0])  # allowed to see that it is missing
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3.admin[1])
    missing = UploadStoreSettings(
        upload_store="s3://no-such-bucket-here", s3_endpoint_url=s3.url, s3_region="us-east-1"
    )
    with pytest.raises(ConfigurationError, match="does not exist"):
        ObjectUploads(missing, tmp_path).check()
    store_for(s3, tmp_path, "unit").check()  # the right ones pass


def test_no_credentials_at_all_are_named(
    s3: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(ConfigurationError, match="no AWS credentials"):
        store_for(s3, tmp_path, "unit").check()
