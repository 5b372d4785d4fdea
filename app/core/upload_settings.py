"""The upload-store part of the settings (a base of `Settings`): where a job's audio waits for
its worker. The data directory by default; an S3-compatible bucket when API and workers share
no disk. Read from `WHISPER_JOBS_*` like the rest; credentials never come from here (the
standard AWS chain: environment, shared profile, container or instance role, web identity).
"""

from __future__ import annotations

import re

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# `s3://bucket` or `s3://bucket/prefix`: S3's bucket naming rules, a prefix of safe characters.
_S3_URL = re.compile(r"^s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:/([A-Za-z0-9._/-]{0,200}))?$")
MIN_PART_BYTES = 5 * 2**20  # S3's smallest part (all but the last)


class UploadStoreSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="WHISPER_JOBS_", extra="ignore", env_ignore_empty=True
    )

    upload_store: str | None = Field(
        default=None,
        max_length=300,
        description="Where uploads wait for a worker. Unset: `<data_dir>/uploads` (API and "
        "workers share the disk). `s3://bucket/prefix`: an S3-compatible bucket, so API and "
        "workers share nothing but Redis and the bucket (credentials: the standard AWS chain).",
    )
    s3_endpoint_url: str | None = Field(
        default=None,
        max_length=300,
        description="The S3 endpoint for S3-compatible stores (MinIO, R2, GCS, Ceph); unset: "
        "AWS's own for the region.",
    )
    s3_region: str | None = Field(
        default=None,
        max_length=40,
        description="The bucket's region; unset: the AWS chain's (`AWS_REGION`, the profile).",
    )
    s3_part_bytes: int = Field(
        default=8 * 2**20,
        ge=MIN_PART_BYTES,
        le=2**30,
        description="Size of one part of a multipart upload into the bucket; an upload holds at "
        "most five parts in memory (four being sent, one being read).",
    )
    s3_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="Connect and read timeout of one call to the bucket; beyond it a "
        "submission gets `503 storage_unavailable` and a worker runs the job again later.",
    )

    @field_validator("upload_store")
    @classmethod
    def _check_upload_store(cls, value: str | None) -> str | None:
        if value is not None and not _S3_URL.match(value):
            raise ValueError("must be s3://bucket or s3://bucket/prefix")
        return value

    def bucket_and_prefix(self) -> tuple[str, str] | None:
        """(bucket, key prefix ending in `/`), or None for the data directory."""
        if self.upload_store is None:
            return None
        match = _S3_URL.match(self.upload_store)
        assert match is not None  # validated
        prefix = (match.group(2) or "").strip("/")
        return match.group(1), f"{prefix}/uploads/" if prefix else "uploads/"
