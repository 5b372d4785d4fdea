"""Domain errors. Each has a stable `code` and nothing of HTTP: the API's edge turns them into
`{"error": {"code", "message"}}` with the status its table gives the code
(`app.api.error_handlers.STATUS`).

Codes:
- `not_found`: no such job.
- `job_not_completed`: the transcript was asked for before the job completed.
- `sync_timeout`: an OpenAI-compatible request outlived its wait; the job continues.
- `no_webhook`: redelivery asked of a job without `webhook_url`.
- `invalid_transition`: a status change the state machine does not allow.
- `empty_file`: the upload had no bytes.
- `model_not_available`: the job named a model this deployment does not offer.
- `model_not_found`: `GET /v1/models/{id}` of a model this deployment does not offer.
- `model_not_multilingual`: translation or a non-English language asked of a `*.en` model.
- `invalid_request`: a field failed validation.
- `queue_unavailable`: the job could not be handed to the queue.
- `unauthorized`: no or an unknown API key.
- `payload_too_large`: the upload exceeds `WHISPER_JOBS_MAX_UPLOAD_BYTES` (also a job error
  for `audio_url` downloads).
- `request_timeout`: the request's headers or body came too slowly (the connection is closed).
- `unsupported_media`: the upload is not an audio container, or has no audio stream.
- `audio_too_long` (also a job error): longer than `WHISPER_JOBS_MAX_AUDIO_SECONDS`.
- `idempotency_key_reused`: an `Idempotency-Key` sent again with a different request.
- `rate_limited`: the caller has too many unfinished jobs; retry after `Retry-After`.
- `overloaded`: the service holds too many unfinished jobs overall.
- `quota_exceeded`: the caller keeps too many jobs (finished ones included); delete some.
- `timeout` (a job error): the job ran past its time limit (derived from the audio duration).
- `url_not_allowed` (also a job error): a caller-chosen URL points at a refused address.
- `download_failed` (a job error): `audio_url` could not be fetched (status or reason given).
- `worker_lost` (a job error): the job killed its worker `WHISPER_JOBS_MAX_ATTEMPTS` times.
- `invalid_audio`: the worker could not decode the file (a job error, never an HTTP status).
- `model_load_failed`: the worker could not load the model (a job error).
- `internal_error` (also a job error): anything unexpected; details go to the log, not the caller.
"""

from __future__ import annotations


class WhisperJobsError(Exception):
    code = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class JobNotFound(WhisperJobsError):
    code = "not_found"


class JobNotCompleted(WhisperJobsError):
    code = "job_not_completed"


class SyncTimeout(WhisperJobsError):
    code = "sync_timeout"


class JobFailed(WhisperJobsError):
    """A synchronous (OpenAI-compatible) request whose job failed: its code, as a response."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


#: Job error codes that are the caller's fault (a sync request answers them as 422, not 500).
CALLER_FAULTS = frozenset({"invalid_audio", "audio_too_long", "payload_too_large", "canceled"})


class NoWebhook(WhisperJobsError):
    code = "no_webhook"


class InvalidTransition(WhisperJobsError):
    code = "invalid_transition"


class EmptyFile(WhisperJobsError):
    code = "empty_file"


class ModelNotAvailable(WhisperJobsError):
    code = "model_not_available"


class ModelNotFound(WhisperJobsError):
    code = "model_not_found"


class ModelNotMultilingual(WhisperJobsError):
    code = "model_not_multilingual"


class InvalidRequest(WhisperJobsError):
    code = "invalid_request"

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param  # the field at fault, when one is (OpenAI's error shape names it)


class QueueUnavailable(WhisperJobsError):
    code = "queue_unavailable"


class StorageUnavailable(WhisperJobsError):
    """The upload store (a bucket) could not take the upload: nothing was kept."""

    code = "storage_unavailable"


class Unauthorized(WhisperJobsError):
    code = "unauthorized"


class PayloadTooLarge(WhisperJobsError):
    code = "payload_too_large"


class RequestTimeout(WhisperJobsError):
    code = "request_timeout"


class UnsupportedMedia(WhisperJobsError):
    code = "unsupported_media"


class AudioTooLong(WhisperJobsError):
    code = "audio_too_long"


class IdempotencyKeyReused(WhisperJobsError):
    code = "idempotency_key_reused"


class RateLimited(WhisperJobsError):
    code = "rate_limited"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Overloaded(WhisperJobsError):
    code = "overloaded"


class QuotaExceeded(WhisperJobsError):
    code = "quota_exceeded"


class UrlNotAllowed(WhisperJobsError):
    code = "url_not_allowed"


class DownloadFailed(WhisperJobsError):
    code = "download_failed"


WORKER_LOST = "worker_lost"


class InvalidAudio(WhisperJobsError):
    code = "invalid_audio"


class ModelLoadFailed(WhisperJobsError):
    code = "model_load_failed"


class JobCanceled(WhisperJobsError):
    """Raised inside the worker when the job was canceled while it ran."""

    code = "canceled"
