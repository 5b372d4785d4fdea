"""A small typed client for the whisper-jobs API (sync and asyncio, on httpx).

    from app.client import Client

    with Client("http://localhost:8000", api_key="wj_...") as client:
        job = client.transcribe("call.mp3", language="de", wait=True)
        print(job.result.text)

It imports only the job contract (`app.jobs`), never the API or the worker.
"""

from app.client._common import AudioSource, Event
from app.client.aio import AsyncClient
from app.client.errors import (
    APIError,
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
from app.client.sync import Client
from app.client.webhooks import WebhookVerifier
from app.jobs import Job, JobStatus

__all__ = [
    "APIError",
    "AsyncClient",
    "AudioSource",
    "AuthenticationError",
    "Client",
    "ClientError",
    "ConflictError",
    "ConnectionFailed",
    "Event",
    "InvalidRequestError",
    "Job",
    "JobFailedError",
    "JobStatus",
    "NotFoundError",
    "RateLimitError",
    "ServiceUnavailableError",
    "WaitTimeout",
    "WebhookVerificationError",
    "WebhookVerifier",
]
