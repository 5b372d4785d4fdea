"""The client's request building, error mapping and event decoding (no server needed)."""

from __future__ import annotations

import httpx
import pytest
from whisper_jobs_client import (
    APIError,
    AuthenticationError,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    RateLimitError,
    ServiceUnavailableError,
)
from whisper_jobs_client._common import EventDecoder, check, form_fields


def error_response(status: int, code: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(
        status, json={"error": {"code": code, "message": f"{code}!"}}, headers=headers
    )


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (401, "unauthorized", AuthenticationError),
        (404, "not_found", NotFoundError),
        (409, "job_not_completed", ConflictError),
        (413, "payload_too_large", InvalidRequestError),
        (415, "unsupported_media", InvalidRequestError),
        (422, "invalid_request", InvalidRequestError),
        (503, "overloaded", ServiceUnavailableError),
        (504, "sync_timeout", ServiceUnavailableError),
        (500, "internal_error", APIError),
    ],
)
def test_refusals_become_typed_errors_with_the_api_code(
    status: int, code: str, kind: type[APIError]
) -> None:
    with pytest.raises(kind) as info:
        check(error_response(status, code))
    assert (info.value.status_code, info.value.code, info.value.message) == (
        status,
        code,
        f"{code}!",
    )


def test_rate_limit_carries_retry_after() -> None:
    with pytest.raises(RateLimitError) as info:
        check(error_response(429, "rate_limited", {"Retry-After": "7"}))
    assert info.value.retry_after == 7.0


def test_a_refusal_outside_the_contract_keeps_the_http_status() -> None:
    with pytest.raises(APIError) as info:
        check(httpx.Response(502, text="<html>bad gateway</html>"))
    assert (info.value.code, info.value.message) == ("http_502", "Bad Gateway")


def test_success_passes_through() -> None:
    response = httpx.Response(200, json={"ok": True})
    assert check(response) is response


def test_form_fields_leave_out_none_and_spell_values_as_the_api_reads_them() -> None:
    fields = form_fields(
        {
            "language": "de",
            "model": None,
            "word_timestamps": True,
            "vad_filter": False,
            "temperature": (0.0, 0.2),
            "metadata": {"a": 1},
            "beam_size": 3,
        }
    )
    assert fields == {
        "language": "de",
        "word_timestamps": "true",
        "vad_filter": "false",
        "temperature": "0.0,0.2",
        "metadata": '{"a": 1}',
        "beam_size": "3",
    }


def decode(text: str, decoder: EventDecoder | None = None) -> list[tuple[str, dict]]:
    decoder = decoder or EventDecoder()
    events = [decoder.feed(line) for line in text.split("\n")]
    return [(e.kind, e.data) for e in events if e is not None]


STREAM = (
    'event: segment\ndata: {"id": 0, "text": "a"}\n\n'
    ": keep-alive\n\n"
    'event: progress\ndata: {"progress": 0.5}\n\n'
    'event: segment\ndata: {"id": 1, "text": "b"}\n\n'
)


def test_decoder_reads_events_and_skips_keep_alives() -> None:
    assert decode(STREAM) == [
        ("segment", {"id": 0, "text": "a"}),
        ("progress", {"progress": 0.5}),
        ("segment", {"id": 1, "text": "b"}),
    ]


def test_a_reconnect_replay_reports_each_segment_once_but_a_rerun_starts_over() -> None:
    decoder = EventDecoder()
    decode(STREAM, decoder)
    replayed = decode(STREAM + 'event: segment\ndata: {"id": 2, "text": "c"}\n\n', decoder)
    assert replayed == [("progress", {"progress": 0.5}), ("segment", {"id": 2, "text": "c"})]
    rerun = decode('event: processing\ndata: {"job": {}}\n\n' + STREAM, decoder)
    assert [kind for kind, _ in rerun] == ["processing", "segment", "progress", "segment"]


def test_multi_line_data_is_joined() -> None:
    assert decode('event: completed\ndata: {"job":\ndata:  {"id": "x"}}\n\n') == [
        ("completed", {"job": {"id": "x"}})
    ]


def test_the_client_imports_none_of_the_server_side() -> None:
    """A caller's process gets httpx and pydantic, not our server, FastAPI, Celery, Redis or the
    model (the wheel installed alone: tests/client/test_distribution.py)."""
    import subprocess
    import sys

    code = (
        "import sys, whisper_jobs_client, whisper_jobs_client._cli\n"
        "heavy = ('app', 'fastapi', 'starlette', 'celery', 'kombu', 'redis', 'worker',"
        " 'faster_whisper', 'ctranslate2', 'av', 'numpy')\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
