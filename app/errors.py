"""Domain errors. Each has a stable `code`; the HTTP edge turns them into
`{"error": {"code", "message"}}` with `status_code`.

Codes:
- `not_found` (404): no such job.
- `job_not_completed` (409): the transcript was asked for before the job completed.
- `invalid_transition` (409): a status change the state machine does not allow.
- `empty_file` (400): the upload had no bytes.
- `model_not_available` (422): the job named a model this deployment does not offer.
- `model_not_multilingual` (422): translation or a non-English language asked of a `*.en` model.
- `invalid_request` (422): a field failed validation.
- `queue_unavailable` (503): the job could not be handed to the queue.
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


class InvalidTransition(WhisperJobsError):
    code = "invalid_transition"
    status_code = 409


class EmptyFile(WhisperJobsError):
    code = "empty_file"
    status_code = 400


class ModelNotAvailable(WhisperJobsError):
    code = "model_not_available"
    status_code = 422


class ModelNotMultilingual(WhisperJobsError):
    code = "model_not_multilingual"
    status_code = 422


class InvalidRequest(WhisperJobsError):
    code = "invalid_request"
    status_code = 422


class QueueUnavailable(WhisperJobsError):
    code = "queue_unavailable"
    status_code = 503


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
