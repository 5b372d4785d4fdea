"""The job contract: status enum, allowed transitions, and the pydantic models the API returns.

Task names live here too, so the API can enqueue by name without importing the worker.
"""

from __future__ import annotations

import re
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


#: What `new_job_id` makes: 32 lowercase hex digits.
JOB_ID_PATTERN = re.compile(r"[0-9a-f]{32}")


def utcnow() -> datetime:
    return datetime.now(UTC)


DEFAULT_TEMPERATURES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)


#: Options that are the service's own, not `WhisperModel.transcribe` keywords: the model, how the
#: channels and batching are handled, and VAD's parameters (passed as its `vad_parameters`).
SERVICE_OPTIONS = frozenset(
    {
        "model",
        "channels",
        "batched",
        "vad_threshold",
        "vad_min_silence_ms",
        "vad_speech_pad_ms",
        "diarize",
        "num_speakers",
        "min_speakers",
        "max_speakers",
    }
)

#: The most speakers a job may ask for or be told of (labels A..T).
MAX_SPEAKERS = 20


# The most hypotheses one 30-s window may cost when every fallback runs (`decoding_cost`): twice
# the defaults' 30. Over it, one job's window could outlast its time limit and (with jobs decoded
# together in one process) take the others' work with it.
MAX_DECODING_COST = 60


Task = Literal["transcribe", "translate", "detect_language"]


class JobOptions(BaseModel):
    """Decoding options a caller chose for one job: declared here once. The form of
    `POST /v1/jobs` is built from these fields (`app.api.forms`), and the engine's keyword
    arguments are these fields less `SERVICE_OPTIONS` (`worker.decoding.engine.decode_options`).

    Names and defaults follow faster-whisper's `WhisperModel.transcribe`.
    """

    model_config = ConfigDict(frozen=True)

    task: Task = Field(
        "transcribe",
        description=(
            "`translate`: any language to English. `detect_language`: only the language, its "
            "probability and the top 5, from the first 30 s (of speech with `vad_filter`), "
            "without transcribing."
        ),
    )
    language: str | None = Field(None, description="ISO 639-1 code; absent: detect.")
    model: str = Field("base", description="A model from `GET /v1/models`.")
    multilingual: bool = Field(False, description="Re-detect the language per segment.")
    word_timestamps: bool = Field(False, description="Per-word start, end and probability.")
    beam_size: int = Field(5, ge=1, le=10, description="Beam search width, 1 to 10.")
    best_of: int = Field(5, ge=1, le=10, description="Candidates when sampling, 1 to 10.")
    patience: float = Field(1.0, gt=0, le=10, description="Beam search patience, > 0.")
    temperature: tuple[float, ...] = Field(
        DEFAULT_TEMPERATURES,
        min_length=1,
        max_length=10,
        description="The fallback temperatures, 0 to 1.",
    )
    condition_on_previous_text: bool = Field(
        True, description="Feed the previous window's text as a prompt."
    )
    initial_prompt: str | None = Field(
        None, max_length=2000, description="Vocabulary and style hint."
    )
    hotwords: str | None = Field(None, max_length=2000, description="Words to favour.")
    no_speech_threshold: float | None = Field(0.6, ge=0, le=1, description="Silence threshold.")
    log_prob_threshold: float | None = Field(-1.0, le=0, description="Fallback threshold.")
    compression_ratio_threshold: float | None = Field(
        2.4, gt=0, description="Fallback threshold on repetitive text."
    )
    hallucination_silence_threshold: float | None = Field(
        None, gt=0, description="Seconds; turns word timestamps on (it needs them)."
    )
    vad_filter: bool = Field(False, description="Skip non-speech with Silero VAD.")

    def decoding_cost(self) -> float:
        """The hypotheses one window decodes at worst, when every temperature of the fallback
        runs: `beam_size × patience` for the beam search at 0, `best_of` per sampled one."""
        return sum(
            self.beam_size * self.patience if t == 0 else self.best_of for t in self.temperature
        )

    vad_threshold: float | None = Field(None, gt=0, lt=1, description="VAD speech probability.")
    vad_min_silence_ms: int | None = Field(
        None, ge=0, le=60_000, description="VAD minimum silence."
    )
    vad_speech_pad_ms: int | None = Field(None, ge=0, le=10_000, description="VAD padding.")
    channels: Literal["mix", "split"] = Field(
        "mix", description="`split`: transcribe a stereo file per channel."
    )
    batched: Literal["auto", "true", "false"] = Field(
        "auto", description="Batched inference; `auto`: for audio over the configured length."
    )
    diarize: bool = Field(
        False,
        description=(
            "Label who speaks: a `speaker` (`A`, `B`, ...) on every segment and word, segments "
            "cut at speaker turns, and `speakers` with their speaking time."
        ),
    )
    num_speakers: int | None = Field(
        None, ge=1, le=MAX_SPEAKERS, description="With diarize: the number of speakers, if known."
    )
    min_speakers: int | None = Field(
        None, ge=1, le=MAX_SPEAKERS, description="With diarize: at least this many speakers."
    )
    max_speakers: int | None = Field(
        None, ge=1, le=MAX_SPEAKERS, description="With diarize: at most this many (default 8)."
    )


class Word(BaseModel):
    start: float
    end: float
    word: str
    probability: float
    speaker: str | None = Field(default=None, description="With diarize=true.")


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
    speaker: str | None = Field(
        default=None, description="With diarize=true, or channels=split (`A`: left, `B`: right)."
    )


class SpeakerTime(BaseModel):
    speaker: str
    seconds: float = Field(description="Seconds of the job's segments that are this speaker's.")


class LanguageProbability(BaseModel):
    language: str
    probability: float


class TranscriptResult(BaseModel):
    model: str
    task: Task = "transcribe"
    language: str | None = Field(description="Detected (or requested) language; null: no speech.")
    language_probability: float
    language_probabilities: list[LanguageProbability] = Field(
        default_factory=list, description="Top 5 of language detection (empty when given)."
    )
    duration: float
    text: str
    segments: list[Segment]
    batched: bool = False
    speakers: list[SpeakerTime] | None = Field(
        default=None, description="With diarize=true or channels=split, in order of first speech."
    )


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
