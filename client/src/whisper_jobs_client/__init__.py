"""The Python client of whisper-jobs, a self-hosted asynchronous speech-transcription service
(sync and asyncio, on httpx; `pip install whisper-jobs-client`, `[cli]` for the command line).

    from whisper_jobs_client import Client

    with Client() as client:  # WHISPER_JOBS_SERVER / WHISPER_JOBS_API_KEY, or Client(url, key)
        job = client.transcribe("call.mp3", language="de")
        print(job.result.text)

It depends on httpx and pydantic only and imports nothing of the server; its response models are
its own (checked against the server's OpenAPI schema by the server's tests).
"""

from importlib.metadata import PackageNotFoundError, version

from whisper_jobs_client._async_client import AsyncClient
from whisper_jobs_client._client import Client
from whisper_jobs_client._common import AudioSource, Event
from whisper_jobs_client._errors import (
    APIError,
    AudioFileNotFound,
    AuthenticationError,
    ClientError,
    ConflictError,
    ConnectionFailed,
    InvalidRequestError,
    JobFailedError,
    NotFoundError,
    RateLimitError,
    ServiceUnavailableError,
    WaitTimeout,
    WebhookVerificationError,
)
from whisper_jobs_client._models import (
    Job,
    JobError,
    JobOptions,
    JobStatus,
    LanguageProbability,
    ModelInfo,
    Segment,
    TranscriptResult,
    WebhookState,
    Word,
)
from whisper_jobs_client._webhooks import WebhookVerifier

try:
    __version__ = version("whisper-jobs-client")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0.0.0"

__all__ = [
    "APIError",
    "AsyncClient",
    "AudioFileNotFound",
    "AudioSource",
    "AuthenticationError",
    "Client",
    "ClientError",
    "ConflictError",
    "ConnectionFailed",
    "Event",
    "InvalidRequestError",
    "Job",
    "JobError",
    "JobFailedError",
    "JobOptions",
    "JobStatus",
    "LanguageProbability",
    "ModelInfo",
    "NotFoundError",
    "RateLimitError",
    "Segment",
    "ServiceUnavailableError",
    "TranscriptResult",
    "WaitTimeout",
    "WebhookState",
    "WebhookVerificationError",
    "WebhookVerifier",
    "Word",
    "__version__",
]
