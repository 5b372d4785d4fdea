"""The clients as SDK users expect: configuration from the environment, URLs as `audio_url`,
clear errors for missing files and unreachable servers, and retries of transient failures,
against a scripted transport standing in for the API (the real service: tests/e2e)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest
from whisper_jobs_client import AsyncClient, Client
from whisper_jobs_client._errors import (
    AudioFileNotFound,
    ConnectionFailed,
    RateLimitError,
    ServiceUnavailableError,
)

from app.contract.jobs import Job, JobOptions, JobStatus, utcnow
from tests.conftest import JFK

JOB = Job(id="j1", status=JobStatus.QUEUED, created_at=utcnow(), options=JobOptions())
Handler = Callable[[httpx.Request, int], httpx.Response]


class Script:
    """Answers the n-th request (0-based) with `handler(request, n)`, and keeps the requests."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[httpx.Request] = []
        self.bodies: list[bytes] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.bodies.append(request.read())
        return self.handler(request, len(self.requests) - 1)


def accepted(_: httpx.Request, __: int) -> httpx.Response:
    return httpx.Response(202, content=JOB.model_dump_json())


def client_for(script: Script, **kwargs: object) -> Client:
    return Client("http://api", transport=httpx.MockTransport(script), **kwargs)  # type: ignore[arg-type]


def test_server_and_key_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WHISPER_JOBS_SERVER", "http://jobs.example:9000")
    monkeypatch.setenv("WHISPER_JOBS_API_KEY", "wj_from_env")
    script = Script(accepted)
    with Client(transport=httpx.MockTransport(script)) as client:
        client.submit(b"audio")
    (request,) = script.requests
    assert str(request.url) == "http://jobs.example:9000/v1/jobs"
    assert request.headers["authorization"] == "Bearer wj_from_env"
    with Client("http://other", "wj_arg", transport=httpx.MockTransport(script)) as client:
        client.submit(b"audio")
    assert str(script.requests[-1].url).startswith("http://other/")
    assert script.requests[-1].headers["authorization"] == "Bearer wj_arg"


def test_a_url_string_is_sent_as_audio_url() -> None:
    script = Script(accepted)
    with client_for(script) as client:
        client.transcribe("https://example.org/call.mp3", wait=False, language="de")
    form = dict(httpx.QueryParams(script.bodies[0].decode()))  # urlencoded: no file part
    assert form == {"audio_url": "https://example.org/call.mp3", "language": "de"}


def test_a_missing_file_is_a_clear_client_error() -> None:
    script = Script(accepted)
    with client_for(script) as client, pytest.raises(AudioFileNotFound) as info:
        client.submit("no/such/recording.wav")
    assert str(info.value) == "No such audio file: no/such/recording.wav"
    assert isinstance(info.value, FileNotFoundError)
    assert script.requests == []


def test_a_submission_is_retried_with_one_idempotency_key_and_the_whole_file() -> None:
    def flaky(request: httpx.Request, n: int) -> httpx.Response:
        if n == 0:
            raise httpx.ConnectError("refused", request=request)
        if n == 1:
            return httpx.Response(
                503, json={"error": {"code": "queue_unavailable", "message": "later"}}
            )
        return accepted(request, n)

    script = Script(flaky)
    with client_for(script) as client, JFK.open("rb") as f:
        assert client.submit(f).id == "j1"
    keys = {r.headers["idempotency-key"] for r in script.requests}
    assert len(script.requests) == 3 and len(keys) == 1 and keys.pop().startswith("auto-")
    assert len(script.bodies[1]) == len(script.bodies[2]) > JFK.stat().st_size  # rewound


def test_retry_after_is_honoured_and_retries_are_bounded() -> None:
    def busy(_: httpx.Request, __: int) -> httpx.Response:
        error = {"error": {"code": "rate_limited", "message": "wait"}}
        return httpx.Response(429, headers={"Retry-After": "0"}, json=error)

    script = Script(busy)
    with client_for(script, max_retries=3) as client, pytest.raises(RateLimitError):
        client.list()
    assert len(script.requests) == 4  # the first try and 3 retries
    script = Script(busy)
    with client_for(script, max_retries=0) as client, pytest.raises(RateLimitError):
        client.list()
    assert len(script.requests) == 1


def test_a_cancel_is_not_repeated_after_a_broken_connection() -> None:
    def broken(request: httpx.Request, _: int) -> httpx.Response:
        raise httpx.ReadError("reset", request=request)

    script = Script(broken)
    with client_for(script) as client, pytest.raises(ConnectionFailed) as info:
        client.cancel("j1")
    assert len(script.requests) == 1  # it may have run: a second DELETE would delete the job
    assert "could not reach http://api" in str(info.value)


def test_the_async_client_retries_too() -> None:
    def gateway(request: httpx.Request, n: int) -> httpx.Response:
        return httpx.Response(502, text="bad gateway") if n == 0 else accepted(request, n)

    script = Script(gateway)

    async def run() -> str:
        transport = httpx.MockTransport(script)
        async with AsyncClient("http://api", transport=transport) as client:
            return (await client.submit(b"audio")).id

    assert asyncio.run(run()) == "j1"
    assert len(script.requests) == 2


def test_a_503_on_a_get_gives_up_after_the_retries() -> None:
    def down(_: httpx.Request, __: int) -> httpx.Response:
        return httpx.Response(503, json={"error": {"code": "queue_unavailable", "message": "x"}})

    script = Script(down)
    with client_for(script, max_retries=1) as client, pytest.raises(ServiceUnavailableError):
        client.get("j1")
    assert len(script.requests) == 2
