"""Errors the client raises. Every refusal from the API carries the API's stable `code`
(see `app.contract.errors`), its message and the HTTP status; subclasses group them the way a caller
reacts (fix the request, back off, re-authenticate).
"""

from __future__ import annotations

from whisper_jobs_client._models import Job


class ClientError(Exception):
    """Base of everything this client raises."""


class APIError(ClientError):
    """The API answered with `{"error": {"code", "message"}}` (or an unexpected status)."""

    def __init__(self, status_code: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status_code = status_code
        self.code = code
        self.message = message


class AuthenticationError(APIError):
    """401: no key, or a key the server does not know."""


class NotFoundError(APIError):
    """404: no such job (or not one of this key's jobs)."""


class ConflictError(APIError):
    """409: e.g. the transcript of a job that has not completed."""


class InvalidRequestError(APIError):
    """400, 413, 415, 422: the request itself is wrong; retrying it unchanged will not help."""


class RateLimitError(APIError):
    """429: too many unfinished jobs for this key; retry after `retry_after` seconds."""

    def __init__(self, status_code: int, code: str, message: str, retry_after: float | None):
        super().__init__(status_code, code, message)
        self.retry_after = retry_after


class ServiceUnavailableError(APIError):
    """503/504: overloaded, the queue unreachable, or a synchronous wait that timed out."""


class ConnectionFailed(ClientError):
    """The server could not be reached (or the connection broke); the message names its URL."""


class AudioFileNotFound(ClientError, FileNotFoundError):
    """`submit`/`transcribe` named a local file that does not exist (nothing was sent)."""


class WaitTimeout(ClientError):
    """`wait` gave up before the job ended; the job goes on and can be waited for again."""

    def __init__(self, job_id: str, timeout: float) -> None:
        super().__init__(f"job {job_id} did not end within {timeout:g} s")
        self.job_id = job_id


class JobFailedError(ClientError):
    """`transcribe(wait=True)` ended in `failed` or `canceled`; `job.error` says why."""

    def __init__(self, job: Job) -> None:
        code = job.error.code if job.error else job.status.value
        message = job.error.message if job.error else f"job {job.status.value}"
        super().__init__(f"job {job.id} {job.status.value}: {code}: {message}")
        self.job = job
        self.code = code


class WebhookVerificationError(ClientError):
    """A webhook request whose signature, timestamp or headers do not check out."""


_BY_STATUS: dict[int, type[APIError]] = {
    400: InvalidRequestError,
    401: AuthenticationError,
    404: NotFoundError,
    409: ConflictError,
    413: InvalidRequestError,
    415: InvalidRequestError,
    422: InvalidRequestError,
    503: ServiceUnavailableError,
    504: ServiceUnavailableError,
}


def error_for(status_code: int, code: str, message: str, retry_after: float | None) -> APIError:
    if status_code == 429:
        return RateLimitError(status_code, code, message, retry_after)
    return _BY_STATUS.get(status_code, APIError)(status_code, code, message)
