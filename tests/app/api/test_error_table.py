"""The one table where domain errors meet HTTP: it covers every error code the contract raises,
and each status lands on the client error class a caller would catch for it."""

from __future__ import annotations

import inspect

import pytest
from whisper_jobs_client._errors import (
    APIError,
    AuthenticationError,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    RateLimitError,
    ServiceUnavailableError,
    error_for,
)

from app.api.error_handlers import STATUS, status_for
from app.contract import errors

DOMAIN_ERRORS = [
    cls
    for _, cls in inspect.getmembers(errors, inspect.isclass)
    if issubclass(cls, errors.WhisperJobsError) and cls is not errors.JobFailed
]
EXPECTED_CLASS = {
    400: InvalidRequestError,
    401: AuthenticationError,
    404: NotFoundError,
    409: ConflictError,
    413: InvalidRequestError,
    415: InvalidRequestError,
    422: InvalidRequestError,
    429: RateLimitError,
    503: ServiceUnavailableError,
    504: ServiceUnavailableError,
}


def test_every_domain_error_has_a_status() -> None:
    assert {cls.code for cls in DOMAIN_ERRORS} <= set(STATUS)
    assert not any(hasattr(cls, "status_code") for cls in DOMAIN_ERRORS)  # no HTTP in the domain


@pytest.mark.parametrize(("code", "status"), sorted(STATUS.items()))
def test_each_status_maps_to_the_clients_class(code: str, status: int) -> None:
    raised = error_for(status, code, "message", retry_after=None)
    assert type(raised) is EXPECTED_CLASS.get(status, APIError)
    assert (raised.status_code, raised.code) == (status, code)


def test_a_failed_sync_job_is_the_callers_fault_or_ours() -> None:
    assert status_for(errors.JobFailed("invalid_audio", "x")) == 422
    assert status_for(errors.JobFailed("worker_lost", "x")) == 500
