"""Domain errors. Each has a stable `code`; the HTTP edge turns them into
`{"error": {"code", "message"}}` with `status_code`.

Codes:
- `not_found` (404): no such job.
- `job_not_completed` (409): the transcript was asked for before the job completed.
- `sync_timeout` (504): an OpenAI-compatible request outlived its wait; the job continues.
- `no_webhook` (409): redelivery asked of a job without `webhook_url`.
- `invalid_transition` (409): a status change the state machine does not allow.
- `empty_file` (400): the upload had no bytes.
- `model_not_available` (422): the job named a model this deployment does not offer.
- `model_not_found` (404): `GET /v1/models/{id}` of a model this deployment does not offer.
- `model_not_multilingual` (422): translation or a non-English language asked of a `*.en` model.
- `invalid_request` (422): a field failed validation.
- `queue_unavailable` (503): the job could not be handed to the queue.
- `unauthorized` (401): no or an unknown API key.
- `payload_too_large` (413): the upload exceeds `WHISPER_JOBS_MAX_UPLOAD_BYTES` (also a job error
  for `audio_url` downloads).
- `unsupported_media` (415): the upload is not an audio container, or has no audio stream.
- `audio_too_long` (422 / job error): longer than `WHISPER_JOBS_MAX_AUDIO_SECONDS`.
- `idempotency_key_reused` (422): an `Idempotency-Key` sent again with a different request.
- `rate_limited` (429): the caller has too many unfinished jobs; retry after `Retry-After`.
- `overloaded` (503): the service holds too many unfinished jobs overall.
- `timeout` (job error): the job ran past its time limit (derived from the audio duration).
- `url_not_allowed` (422 / job error): a caller-chosen URL points at a refused address.
- `download_failed` (job error): `audio_url` could not be fetched (status or reason given).
- `worker_lost` (job error): the job killed its worker `WHISPER_JOBS_MAX_ATTEMPTS` times.
- `invalid_audio`: the worker could not decode the file (a job error, never an HTTP status).
- `model_load_failed`: the worker could not load the model (a job error).
- `internal_error` (500 / job error): anything unexpected; details go to the log, not the caller.
"""

from __future__ import annotations


class WhisperJobsError(Exception):
    code = "internal_error"
    status_code = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class JobNotFound(WhisperJobsError):
    code = "not_found"
    status_code = 404


class JobNotCompleted(WhisperJobsError):
    code = "job_not_completed"
    status_code = 409


class SyncTimeout(WhisperJobsError):
    code = "sync_timeout"
    status_code = 504


class JobFailed(WhisperJobsError):
    """A synchronous (OpenAI-compatible) request whose job failed: its code, as a response."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.status_code = 422 if code in CALLER_FAULTS else 500


CALLER_FAULTS = frozenset({"invalid_audio", "audio_too_long", "payload_too_large", "canceled"})


class NoWebhook(WhisperJobsError):
    code = "no_webhook"
    status_code = 409


class InvalidTransition(WhisperJobsError):
    code = "invalid_transition"
    status_code = 409


class EmptyFile(WhisperJobsError):
    code = "empty_file"
    status_code = 400


class ModelNotAvailable(WhisperJobsError):
    code = "model_not_available"
    status_code = 422


class ModelNotFound(WhisperJobsError):
    code = "model_not_found"
    status_code = 404


class ModelNotMultilingual(WhisperJobsError):
    code = "model_not_multilingual"
    status_code = 422


class InvalidRequest(WhisperJobsError):
    code = "invalid_request"
    status_code = 422

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param  # the field at fault, when one is (OpenAI's error shape names it)


class QueueUnavailable(WhisperJobsError):
    code = "queue_unavailable"
    status_code = 503


class Unauthorized(WhisperJobsError):
    code = "unauthorized"
    status_code = 401


class PayloadTooLarge(WhisperJobsError):
    code = "payload_too_large"
    status_code = 413


class UnsupportedMedia(WhisperJobsError):
    code = "unsupported_media"
    status_code = 415


class AudioTooLong(WhisperJobsError):
    code = "audio_too_long"
    status_code = 422


class IdempotencyKeyReused(WhisperJobsError):
    code = "idempotency_key_reused"
    status_code = 422


class RateLimited(WhisperJobsError):
    code = "rate_limited"
    status_code = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Overloaded(WhisperJobsError):
    code = "overloaded"
    status_code = 503


class UrlNotAllowed(WhisperJobsError):
    code = "url_not_allowed"
    status_code = 422


class DownloadFailed(WhisperJobsError):
    code = "download_failed"
    status_code = 502


WORKER_LOST = "worker_lost"


class InvalidAudio(WhisperJobsError):
    code = "invalid_audio"
    status_code = 422


class ModelLoadFailed(WhisperJobsError):
    code = "model_load_failed"
    status_code = 500


class JobCanceled(WhisperJobsError):
    """Raised inside the worker when the job was canceled while it ran."""

    code = "canceled"
    status_code = 409
