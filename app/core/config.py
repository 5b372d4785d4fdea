"""Settings: one pydantic-settings object, read from `WHISPER_JOBS_*` environment variables.

Built once at the edge (`get_settings()`), then passed into constructors; deep modules never read
the environment themselves.
"""

from __future__ import annotations

import base64
import ipaddress
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from app.contract.languages import MODEL_NAME_PATTERN
from app.core.logs import LogFormat
from app.core.redis_settings import RedisSettings
from app.core.upload_settings import UploadStoreSettings
from app.core.uploads import LocalUploads, UploadStore

MIN_WEBHOOK_SECRET_BYTES = 24


class Settings(RedisSettings, UploadStoreSettings):
    """Every setting of the service; docs/configuration.md is generated from this class."""

    # An empty variable is an unset one: docker-compose.yml forwards every setting as
    # `${NAME:-}`, so one not given in `.env` or the shell must keep its default.
    model_config = SettingsConfigDict(
        env_prefix="WHISPER_JOBS_", extra="ignore", env_ignore_empty=True
    )

    data_dir: Path = Field(
        default=Path("data"),
        description="Uploads, the model cache and the embedded server's files live here. "
        "API and workers must share it (a shared volume in compose), unless uploads live in "
        "a bucket (`WHISPER_JOBS_UPLOAD_STORE`): then each keeps its own.",
    )
    model: str = Field(default="base", description="The model used when a job names none.")
    models: Annotated[list[str], NoDecode] = Field(
        default=["base", "tiny.en"],
        description="Comma-separated model names a job may ask for.",
    )
    device: Literal["auto", "cpu", "cuda"] = Field(
        default="auto", description="`auto`: CUDA when CTranslate2 sees a GPU, else CPU."
    )
    compute_type: str = Field(
        default="auto",
        description="CTranslate2 compute type; `auto` is int8 on CPU and int8_float16 on CUDA.",
    )
    cpu_threads: int = Field(
        default=0,
        ge=0,
        description="CTranslate2 threads per model call (0: library default). Unset, with the "
        "other layout settings unset too: chosen by the worker (docs/decoding.md).",
    )
    max_loaded_models: int = Field(
        default=2, ge=1, description="Models a worker process keeps loaded (LRU evicted)."
    )
    model_idle_seconds: float = Field(
        default=0,
        ge=0,
        description=(
            "Unload a model no job used for this long (0: keep it loaded); the next job loads it "
            "again."
        ),
    )
    preload_model: bool = Field(
        default=True,
        description=(
            "Load the default model (`WHISPER_JOBS_MODEL`) in each worker process as it starts, "
            "in the background, where the worker consumes its queue; a job that arrives meanwhile"
            " waits for that load rather than starting another. `false`: on the first job that "
            "needs it."
        ),
    )
    batch_size: int = Field(
        default=8, ge=1, le=64, description="Batch size of the batched pipeline on long audio."
    )
    batch_jobs: int = Field(
        default=1,
        ge=1,
        le=64,
        description=(
            "Jobs one worker process decodes together, their model calls merged into batches (a "
            "pool of that many threads; see docs/decoding.md). `1`: one job at a time in a "
            "process pool. Unset, with WHISPER_JOBS_MODEL_REPLICAS, _CPU_THREADS and "
            "_WORKER_CONCURRENCY unset too: the worker chooses (on a CPU, 8 per replica and a "
            "replica per core, up to 4 replicas and 16 jobs; on a GPU, 1: measured there, "
            "little gain and transcripts moved)."
        ),
    )
    batch_wait_ms: int = Field(
        default=50,
        ge=0,
        le=1000,
        description=(
            "How long (0–1000 ms) a model call waits for other jobs' calls to join its batch; a "
            "lone job never waits."
        ),
    )
    model_replicas: int = Field(
        default=1,
        ge=1,
        le=16,
        description=(
            "Calls a loaded model runs at once (CTranslate2 `inter_threads`), each on "
            "`WHISPER_JOBS_CPU_THREADS` threads; needs `WHISPER_JOBS_BATCH_JOBS` over 1 (e.g. 2 "
            "replicas of 1 thread on 2 cores)."
        ),
    )
    split_min_seconds: float | None = Field(
        default=None,
        ge=0,
        description=(
            "Audio longer than this is cut at silences into parts that every free worker for its "
            "model decodes (see docs/decoding.md); `0`: never. Unset: a job the batched pipeline "
            "decodes, over 60 s, is cut when the live workers for its model run two model calls "
            "or more at once."
        ),
    )
    split_part_seconds: float | None = Field(
        default=None,
        ge=30,
        le=3600,
        description=(
            "About how long each part of a cut job is. Unset: the audio's length shared out, two "
            "parts per model call the live workers run at once (30 s at least)."
        ),
    )
    batch_min_seconds: float = Field(
        default=60.0,
        ge=0,
        description="Audio longer than this uses batched inference (jobs with batched=auto).",
    )
    model_cache_dir: Path | None = Field(
        default=None,
        description="Where bundled models are assembled; default `<data_dir>/models`.",
    )
    result_ttl_seconds: int = Field(
        default=7 * 24 * 3600, gt=0, description="How long finished jobs and results are kept."
    )
    api_keys: Annotated[list[str], NoDecode] = Field(
        default=[],
        description="Comma-separated `name:sha256hex` entries (`whisper-jobs keys create NAME`). "
        "Empty: the service is open to anyone who can reach it.",
    )
    sync_timeout_seconds: float = Field(
        default=600.0,
        gt=0,
        description=(
            "How long `POST /v1/audio/transcriptions` / `translations` wait for their job before "
            "`504 sync_timeout` (the job continues)."
        ),
    )
    webhook_secret: str | None = Field(
        default=None,
        description="`whsec_` + base64: signs webhook events (Standard Webhooks). Unset: "
        "`webhook_url` is refused.",
    )
    webhook_secrets_previous: str = Field(
        default="",
        description="Space-separated earlier secrets, still signed with during a key rotation.",
    )
    webhook_retry_schedule: Annotated[list[float], NoDecode] = Field(
        default=[5, 30, 120, 600, 1800, 3600, 10800, 21600],
        description="Comma-separated seconds before each retry (jitter of up to 10 % added).",
    )
    webhook_timeout_seconds: float = Field(
        default=15.0,
        gt=0,
        le=300,
        description="Deadline of one webhook attempt, whole: connecting, sending the event and "
        "the receiver's status line and headers (its body is never read).",
    )
    webhook_max_in_flight_per_host: int = Field(
        default=2,
        ge=1,
        le=64,
        description="Attempts in flight at once to one receiver (scheme, host and port), over "
        "all webhook workers; further events for it wait their turn, so one slow receiver holds "
        "at most this many of the webhook worker's 8 threads.",
    )
    webhook_max_in_flight_per_key: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Attempts in flight at once for the jobs of one API key, over all receivers.",
    )
    allowed_networks: Annotated[list[str], NoDecode] = Field(
        default=[],
        description="Comma-separated CIDRs that caller-chosen URLs may reach although they are "
        "not public (e.g. `10.0.0.0/8` for internal object storage).",
    )
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default=[], description="Comma-separated host names allowed likewise."
    )
    max_upload_bytes: int = Field(
        default=2 * 1024**3, gt=0, description="Largest accepted upload (413 above)."
    )
    max_audio_seconds: float = Field(
        default=4 * 3600,
        gt=0,
        description=(
            "Longest audio: checked from the container at submit, and while decoding "
            "(`audio_too_long`)."
        ),
    )
    header_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description=(
            "A request's line and headers must arrive within this: after it, `408 "
            "request_timeout` and the connection closed."
        ),
    )
    body_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description=(
            "A request body must arrive within this, plus a second per "
            "`WHISPER_JOBS_BODY_MIN_BYTES_PER_SECOND` bytes received (`408 request_timeout` "
            "after): a steady upload at that pace or faster is never cut off."
        ),
    )
    body_min_bytes_per_second: int = Field(
        default=1024,
        ge=1,
        description="The slowest steady upload pace that is never cut off (see above).",
    )
    max_attempts: int = Field(
        default=3, ge=1, description="Deliveries of a job before it fails with `worker_lost`."
    )
    max_active_jobs_per_key: int = Field(
        default=100, ge=1, description="Unfinished jobs one key may have (429 above)."
    )
    max_active_jobs: int = Field(
        default=10_000,
        ge=1,
        description="Unfinished jobs the service holds (503 above); a long job's parts are not "
        "counted (their job is).",
    )
    max_jobs_per_key: int = Field(
        default=10_000,
        ge=1,
        description="Jobs one key keeps, finished ones included until they expire or are "
        "deleted (`403 quota_exceeded` above): one key cannot fill Redis for everyone.",
    )
    task_seconds_per_audio_second: float = Field(
        default=2.0,
        gt=0,
        description="Soft time limit of a job per second of audio (then the floor and ceiling).",
    )
    task_time_limit_min_seconds: int = Field(
        default=300, gt=0, description="Floor of a job's soft time limit."
    )
    task_time_limit_max_seconds: int = Field(
        default=5 * 3600,
        gt=0,
        description="Ceiling of a job's soft time limit; the hard limit adds 60 s and must stay "
        "below the Redis visibility timeout (checked at start-up).",
    )
    job_lease_seconds: int = Field(
        default=30,
        ge=3,
        description="A running job's heartbeat lease; the sweep requeues a processing job whose "
        "lease expired (its worker vanished).",
    )
    sweep_interval_seconds: float = Field(
        default=60.0,
        gt=0,
        description=(
            "How often the recovery sweep runs (and how old a job must be to be called stuck)."
        ),
    )
    worker_concurrency: int = Field(
        default=1,
        ge=1,
        description="Celery worker processes per `whisper-jobs worker` (one job at a time "
        "each). Setting it, or any other layout setting, turns off the worker's own choice.",
    )
    api_host: str = Field(default="127.0.0.1", description="Address the API binds to.")
    api_workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description=(
            "uvicorn worker processes of `whisper-jobs api` (2 doubled submissions/s on 2 cores, "
            "see BENCHMARKS.md)."
        ),
    )
    api_port: int = Field(
        default=8000, ge=0, le=65535, description="API port (the plain `PORT` variable overrides)."
    )
    embedded_redis_port: int = Field(
        default=0,
        ge=0,
        le=65535,
        description="Port of the embedded Valkey that `serve` starts (0: any free port).",
    )
    log_format: LogFormat = Field(
        default="text",
        description=(
            "`text`, or `json`: one JSON object per line (`time`, `level`, `logger`, `message`, "
            "`job_id` where the line is about a job, and any extra fields), in the API, workers "
            "and beat alike."
        ),
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="The lowest level logged."
    )
    shutdown_timeout_seconds: float = Field(
        default=60.0,
        gt=0,
        description="How long `serve` waits for each child (worker: its running job) on stop.",
    )
    ready_refresh_seconds: float = Field(
        default=2.0,
        gt=0,
        le=60,
        description="How often the API refreshes the state `/readyz` answers from (Redis "
        "reachable, workers' heartbeats).",
    )
    max_streams_per_key: int = Field(
        default=20,
        ge=1,
        le=10_000,
        description=(
            "Held waits (event streams, OpenAI-style streamed and synchronous transcriptions) per"
            " key and API process (429 above)."
        ),
    )
    dns_timeout_seconds: float = Field(
        default=3.0,
        gt=0,
        le=60,
        description="How long the submit-time check of `audio_url` "
        "and `webhook_url` waits for DNS (past it, the URL is checked when used).",
    )
    allow_open: bool = Field(
        default=False,
        description="Let the API listen on a non-loopback address with no API keys (an open "
        "service). Without it, that combination refuses to start.",
    )

    @field_validator("models", "api_keys", "allowed_networks", "allowed_hosts", mode="before")
    @classmethod
    def _split_models(cls, value: object) -> object:
        if isinstance(value, str):
            return [name.strip() for name in value.split(",") if name.strip()]
        return value

    @field_validator("models")
    @classmethod
    def _check_models(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("at least one model must be offered")
        for name in value:
            if not MODEL_NAME_PATTERN.fullmatch(name):
                raise ValueError(f"not a usable model name: {name!r}")
        return value

    @field_validator("api_keys")
    @classmethod
    def _check_keys(cls, value: list[str]) -> list[str]:
        for entry in value:
            name, _, digest = entry.partition(":")
            if not name or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
                raise ValueError(f"API key entries are name:sha256hex, got {entry!r}")
            if name.startswith("~"):  # the service's own owners (a long job's parts)
                raise ValueError(f"API key names may not start with '~', got {name!r}")
        return value

    @field_validator("webhook_retry_schedule", mode="before")
    @classmethod
    def _split_schedule(cls, value: object) -> object:
        if isinstance(value, str):
            return [float(v) for v in value.split(",") if v.strip()]
        return value

    @field_validator("webhook_secret", mode="before")
    @classmethod
    def _blank_secret_is_unset(cls, value: object) -> object:
        # compose passes `WHISPER_JOBS_WEBHOOK_SECRET=` when the operator set none.
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("webhook_secret", "webhook_secrets_previous")
    @classmethod
    def _check_secret(cls, value: str | None) -> str | None:
        for secret in (value or "").split():
            try:
                key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
            except ValueError as e:
                raise ValueError("webhook secrets are whsec_ followed by base64") from e
            if len(key) < MIN_WEBHOOK_SECRET_BYTES:
                # Standard Webhooks: secrets of 24 to 64 random bytes.
                raise ValueError(
                    f"a webhook secret must hold at least {MIN_WEBHOOK_SECRET_BYTES} random "
                    f"bytes (this one has {len(key)}); e.g. whsec_$(openssl rand -base64 32)"
                )
        return value

    def webhook_secrets(self) -> list[str]:
        return [s for s in [self.webhook_secret, *self.webhook_secrets_previous.split()] if s]

    @field_validator("allowed_networks")
    @classmethod
    def _check_networks(cls, value: list[str]) -> list[str]:
        for network in value:
            ipaddress.ip_network(network, strict=False)  # raises ValueError when malformed
        return value

    def batching_problem(self) -> str | None:
        """Why the worker must not start as configured: decoding jobs together runs one process
        of threads, so several processes of it would each hold the models and split the CPU."""
        if self.batch_jobs > 1 and self.worker_concurrency > 1:
            return (
                "WHISPER_JOBS_BATCH_JOBS over 1 runs one worker process that decodes jobs "
                "together; set WHISPER_JOBS_WORKER_CONCURRENCY=1 (or run more workers)."
            )
        if self.model_replicas > 1 and self.batch_jobs == 1:
            return "WHISPER_JOBS_MODEL_REPLICAS over 1 needs WHISPER_JOBS_BATCH_JOBS over 1."
        return None

    def open_service_problem(self) -> str | None:
        """Why the API must not start as configured: listening beyond this machine with no
        keys would be an open service, unless the operator said so (`allow_open`)."""
        loopback = self.api_host in ("127.0.0.1", "::1", "localhost") or self.api_host.startswith(
            "127."
        )
        if loopback or self.api_keys or self.allow_open:
            return None
        return (
            f"refusing to listen on {self.api_host} with no API keys: anyone who can reach it "
            "could submit and read every job. Create keys (`whisper-jobs keys create NAME`, "
            "then WHISPER_JOBS_API_KEYS), or set WHISPER_JOBS_ALLOW_OPEN=true to run it open."
        )

    @cached_property
    def uploads(self) -> UploadStore:
        """The upload store (one per process: a bucket's client and its connections)."""
        if self.upload_store is None:
            return LocalUploads(self.data_dir / "uploads")
        from app.core.object_uploads import ObjectUploads  # boto3 only where it is used

        return ObjectUploads(self, self.data_dir / "uploads")

    @property
    def models_dir(self) -> Path:
        return self.model_cache_dir or self.data_dir / "models"


@lru_cache
def get_settings() -> Settings:
    settings = Settings()
    if settings.model not in settings.models:
        settings.models.insert(0, settings.model)
    return settings
