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


class JobOptions(BaseModel):
    """Decoding options a caller chose for one job (validated at the HTTP edge)."""

    model_config = ConfigDict(frozen=True)

    task: Literal["transcribe", "translate"] = "transcribe"
    language: str | None = None
    model: str = "base"
    word_timestamps: bool = False
    vad_filter: bool = False
    beam_size: int = Field(default=5, ge=1, le=10)
    initial_prompt: str | None = None


class Word(BaseModel):
    start: float
    end: float
    word: str
    probability: float


class Segment(BaseModel):
    id: int
    start: float
    end: float
    text: str
    avg_logprob: float
    no_speech_prob: float
    compression_ratio: float
    words: list[Word] | None = None


class TranscriptResult(BaseModel):
    model: str
    language: str | None = Field(description="Detected (or requested) language; null: no speech.")
    language_probability: float
    duration: float
    text: str
    segments: list[Segment]


class JobError(BaseModel):
    code: str
    message: str


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
