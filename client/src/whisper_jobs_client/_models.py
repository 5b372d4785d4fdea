"""The client's own models of what the API returns: a job, its options and its result.

They mirror the server's contract field by field (a test compares them with the server's OpenAPI
schema, so the two cannot drift) but import nothing of the server: this distribution installs
alone. Unknown fields from a newer server are kept (`extra="allow"`), never an error.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow")


class JobStatus(StrEnum):
    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def is_terminal(self) -> bool:
        return self in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELED)


class JobOptions(_Model):
    """The decoding options of a job (names and defaults as in faster-whisper)."""

    task: Literal["transcribe", "translate", "detect_language"] = "transcribe"
    language: str | None = None
    model: str = "base"
    multilingual: bool = False
    word_timestamps: bool = False
    beam_size: int = 5
    best_of: int = 5
    patience: float = 1.0
    temperature: list[float] = Field(default_factory=lambda: [0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
    condition_on_previous_text: bool = True
    initial_prompt: str | None = None
    hotwords: str | None = None
    no_speech_threshold: float | None = 0.6
    log_prob_threshold: float | None = -1.0
    compression_ratio_threshold: float | None = 2.4
    hallucination_silence_threshold: float | None = None
    vad_filter: bool = False
    vad_threshold: float | None = None
    vad_min_silence_ms: int | None = None
    vad_speech_pad_ms: int | None = None
    channels: Literal["mix", "split"] = "mix"
    batched: Literal["auto", "true", "false"] = "auto"
    diarize: bool = False
    num_speakers: int | None = None
    min_speakers: int | None = None
    max_speakers: int | None = None


class Word(_Model):
    start: float
    end: float
    word: str
    probability: float
    speaker: str | None = None


class Segment(_Model):
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
    channel: int | None = None
    speaker: str | None = None


class SpeakerTime(_Model):
    speaker: str
    seconds: float


class LanguageProbability(_Model):
    language: str
    probability: float


class TranscriptResult(_Model):
    model: str
    task: Literal["transcribe", "translate", "detect_language"] = "transcribe"
    language: str | None
    language_probability: float
    language_probabilities: list[LanguageProbability] = Field(default_factory=list)
    duration: float
    text: str
    segments: list[Segment]
    batched: bool = False
    speakers: list[SpeakerTime] | None = None


class JobError(_Model):
    code: str
    message: str


class WebhookState(_Model):
    url: str
    include_result: bool = False
    attempts: int = 0
    last_status_code: int | None = None
    last_error: str | None = None
    delivered_at: datetime | None = None
    next_attempt_at: datetime | None = None


class ModelInfo(_Model):
    """One model the service offers (`GET /v1/models`): OpenAI's model object plus ours."""

    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "whisper-jobs"
    multilingual: bool
    languages: list[str]
    source: Literal["bundled", "local", "remote"]
    default: bool = False
    alias_of: str | None = None  # `whisper-1`: the default model


class Job(_Model):
    id: str
    status: JobStatus
    created_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None
    progress: float = 0.0
    options: JobOptions
    metadata: dict[str, Any] | None = None
    error: JobError | None = None
    result: TranscriptResult | None = None
    filename: str | None = None
    webhook: WebhookState | None = None
    source_url: str | None = None
    owner: str = "anonymous"
    attempts: int = 0
    audio_seconds: float | None = None


#: Transcript formats and the extension each is saved with (the JSON kinds: `.json`).
EXTENSIONS = {
    "json": "json",
    "verbose_json": "json",
    "text": "txt",
    "srt": "srt",
    "vtt": "vtt",
    "tsv": "tsv",
    "diarized_json": "json",
}
