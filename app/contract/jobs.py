"""The job contract: status enum, allowed transitions, and the pydantic models the API returns.

Task names live here too, so the API can enqueue by name without importing the worker.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

TRANSCRIBE_TASK = "whisper_jobs.transcribe"
TRANSCRIBE_QUEUE = "transcribe"
SWEEP_TASK = "whisper_jobs.sweep"
WEBHOOK_TASK = "whisper_jobs.deliver_webhook"
WEBHOOK_QUEUE = "webhooks"
MAINTENANCE_QUEUE = "maintenance"


def queue_for(model: str) -> str:
    """One queue per model, so a deployment can dedicate (GPU) workers to a model."""
    return f"{TRANSCRIBE_QUEUE}.{model}"


class JobStatus(StrEnum):
    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELED})

# Every status change goes through this table (JobStore checks it inside its transaction).
ALLOWED_TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.QUEUED: frozenset({JobStatus.PROCESSING, JobStatus.CANCELED, JobStatus.FAILED}),
    # processing -> processing: a task redelivered after its worker died starts over.
    # processing -> queued: a job handed back to the queue (worker shutdown, recovery sweep).
    JobStatus.PROCESSING: frozenset(
        {
            JobStatus.PROCESSING,
            JobStatus.QUEUED,
            JobStatus.COMPLETED,
            JobStatus.FAILED,
            JobStatus.CANCELED,
        }
    ),
    JobStatus.COMPLETED: frozenset(),
    JobStatus.FAILED: frozenset(),
    JobStatus.CANCELED: frozenset(),
}


def can_transition(current: JobStatus, target: JobStatus) -> bool:
    return target in ALLOWED_TRANSITIONS[current]


def new_job_id() -> str:
    """128 random bits, URL-safe: unguessable, so an id is as good as a capability."""
    return secrets.token_hex(16)


def utcnow() -> datetime:
    return datetime.now(UTC)


DEFAULT_TEMPERATURES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)


class JobOptions(BaseModel):
    """Decoding options a caller chose for one job (validated at the HTTP edge).

    Names and defaults follow faster-whisper's `WhisperModel.transcribe`.
    """

    model_config = ConfigDict(frozen=True)

    task: Literal["transcribe", "translate"] = "transcribe"
    language: str | None = None
    model: str = "base"
    multilingual: bool = False
    word_timestamps: bool = False
    beam_size: int = Field(default=5, ge=1, le=10)
    best_of: int = Field(default=5, ge=1, le=10)
    patience: float = Field(default=1.0, gt=0, le=10)
    temperature: tuple[float, ...] = Field(default=DEFAULT_TEMPERATURES, min_length=1)
    condition_on_previous_text: bool = True
    initial_prompt: str | None = None
    hotwords: str | None = None
    no_speech_threshold: float | None = Field(default=0.6, ge=0, le=1)
    log_prob_threshold: float | None = Field(default=-1.0, le=0)
    compression_ratio_threshold: float | None = Field(default=2.4, gt=0)
    hallucination_silence_threshold: float | None = Field(default=None, gt=0)
    vad_filter: bool = False
    vad_threshold: float | None = Field(default=None, gt=0, lt=1)
    vad_min_silence_ms: int | None = Field(default=None, ge=0, le=60_000)
    vad_speech_pad_ms: int | None = Field(default=None, ge=0, le=10_000)
    channels: Literal["mix", "split"] = "mix"
    batched: Literal["auto", "true", "false"] = "auto"


class Word(BaseModel):
    start: float
    end: float
    word: str
    probability: float


class Segment(BaseModel):
    id: int
    seek: int = 0
    start: float
    end: float
    text: str
    tokens: list[int] = Field(default_factory=list)
    temperature: float = 0.0
    avg_logprob: float
    no_speech_prob: float
    compression_ratio: float
    words: list[Word] | None = None
    channel: int | None = Field(default=None, description="0 or 1 when channels=split.")


class LanguageProbability(BaseModel):
    language: str
    probability: float


class TranscriptResult(BaseModel):
    model: str
    task: Literal["transcribe", "translate"] = "transcribe"
    language: str | None = Field(description="Detected (or requested) language; null: no speech.")
    language_probability: float
    language_probabilities: list[LanguageProbability] = Field(
        default_factory=list, description="Top 5 of language detection (empty when given)."
    )
    duration: float
    text: str
    segments: list[Segment]
    batched: bool = False


class JobError(BaseModel):
    code: str
    message: str


class WebhookState(BaseModel):
    """Every delivery attempt of the job's final event, visible on the job."""

    url: str
    include_result: bool = False
    attempts: int = 0
    last_status_code: int | None = None
    last_error: str | None = None
    delivered_at: datetime | None = None
    next_attempt_at: datetime | None = None


class Job(BaseModel):
    id: str
    status: JobStatus
    created_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None
    progress: float = Field(default=0.0, ge=0.0, le=1.0)
    options: JobOptions
    metadata: dict[str, Any] | None = None
    error: JobError | None = None
    result: TranscriptResult | None = None
    filename: str | None = Field(default=None, description="The uploaded file's name, if given.")
    webhook: WebhookState | None = None
    source_url: str | None = Field(
        default=None, description="`audio_url` of the submission; fetched by the worker."
    )
    owner: str = Field(default="anonymous", description="The name of the API key that created it.")
    attempts: int = Field(default=0, description="How many times a worker has started it.")
    audio_seconds: float | None = Field(
        default=None, description="Duration read from the container at submit, when known."
    )
