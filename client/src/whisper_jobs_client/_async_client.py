"""`AsyncClient`: the asyncio client. The blocking `Client` (`_client.py`) is written from this
file by `client/scripts/unasync.py`: edit this one, then run that."""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from typing import Any

import httpx

from whisper_jobs_client._common import (
    DEFAULT_TIMEOUT,
    LONG_POLL,
    POLL_INTERVAL,
    POLL_INTERVAL_MAX,
    AudioSource,
    Deadline,
    Event,
    EventDecoder,
    check,
    form_fields,
    headers,
    models_of,
    parse_job,
    parse_jobs,
    progress_event,
    server_and_key,
    stream_fallback,
    submission,
    transcript_body,
    transcript_params,
    transport_error,
)
from whisper_jobs_client._errors import (
    APIError,
    ClientError,
    ConnectionFailed,
    JobFailedError,
    WaitTimeout,
)
from whisper_jobs_client._models import Job, JobStatus, ModelInfo
from whisper_jobs_client._retry import DEFAULT_MAX_RETRIES, RetryPolicy, is_repeatable, rewind

EventCallback = Callable[[Event], None]


class AsyncClient:
    """A whisper-jobs API client for asyncio.

    >>> client = AsyncClient("http://localhost:8000", api_key="wj_...")
    >>> job = await client.transcribe("call.mp3", language="de", wait=True)
    >>> print(job.result.text)
    """

    def __init__(
        self,
        url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """`url` and `api_key` default to `WHISPER_JOBS_SERVER` and `WHISPER_JOBS_API_KEY`.
        Transient failures are retried up to `max_retries` times (`whisper_jobs_client._retry`)."""
        url, api_key = server_and_key(url, api_key)
        self._http = httpx.AsyncClient(
            base_url=url, headers=headers(api_key), timeout=timeout, transport=transport
        )
        self._retry = RetryPolicy(max_retries)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        repeatable, positions, attempt = is_repeatable(method, kwargs), dict[str, int](), 0
        while True:
            rewind(kwargs, positions)
            try:
                try:
                    return check(await self._http.request(method, path, **kwargs))
                except httpx.TransportError as e:
                    raise transport_error(e, self._http.base_url) from e
            except ClientError as e:
                if not self._retry.should_retry(attempt, e, repeatable):
                    raise
                await asyncio.sleep(self._retry.delay(attempt, e))
                attempt += 1

    async def submit(
        self,
        file: AudioSource | None = None,
        *,
        audio_url: str | None = None,
        idempotency_key: str | None = None,
        **options: Any,
    ) -> Job:
        """Queue a job for a file (path, bytes or open file) or an `audio_url`. `options` are
        the API's form fields (`model`, `language`, `task`, `word_timestamps`, `metadata`,
        `webhook_url`, ...); `None` leaves a field to the server's default."""
        with submission(file, audio_url, idempotency_key, options) as kwargs:
            return parse_job(await self._request("POST", "/v1/jobs", **kwargs))

    async def transcribe(
        self,
        file: AudioSource | None = None,
        *,
        wait: bool = True,
        timeout: float | None = None,
        on_event: EventCallback | None = None,
        **options: Any,
    ) -> Job:
        """`submit`, then (with `wait`) `wait`. Returns a completed job, whose `result` is set;
        raises `JobFailedError` if it failed or was canceled, `WaitTimeout` after `timeout`."""
        job = await self.submit(file, **options)
        if not wait:
            return job
        job = await self.wait(job.id, timeout=timeout, on_event=on_event)
        if job.status is not JobStatus.COMPLETED:
            raise JobFailedError(job)
        return job

    async def get(self, job_id: str, *, wait: float | None = None) -> Job:
        """The job. With `wait` (seconds, at most 60), a long poll: the server answers as soon
        as the job ends, or after `wait` with the job as it is then."""
        if wait is None:
            return parse_job(await self._request("GET", f"/v1/jobs/{job_id}"))
        params, read = {"wait": f"{wait:g}"}, httpx.Timeout(wait + 30, connect=10.0)
        return parse_job(
            await self._request("GET", f"/v1/jobs/{job_id}", params=params, timeout=read)
        )

    async def events(
        self, job_id: str, *, timeout: float | None = None
    ) -> AsyncGenerator[Event, None]:
        """The job's event stream, up to its final event (or the server closing the stream);
        reconnects when the link goes quiet past the server's keep-alives."""
        deadline, decoder = Deadline(timeout), EventDecoder()
        path = f"/v1/jobs/{job_id}/events"
        while True:
            try:
                async with self._http.stream(
                    "GET", path, timeout=deadline.read_timeout()
                ) as response:
                    if not response.is_success:
                        await response.aread()
                        check(response)
                    async for line in response.aiter_lines():
                        event = decoder.feed(line)
                        if event is not None:
                            yield event
                            if event.is_final:
                                return
                        if deadline.passed:
                            raise WaitTimeout(job_id, timeout or 0)
                    # Closed before the final event (a restarting server, a job deleted
                    # meanwhile): not reconnected here, or a stream that keeps closing would spin.
                    return
            except httpx.ReadTimeout:
                if deadline.passed:
                    raise WaitTimeout(job_id, timeout or 0) from None
            except httpx.TransportError as e:
                raise transport_error(e, self._http.base_url) from e

    async def wait(
        self, job_id: str, *, timeout: float | None = None, on_event: EventCallback | None = None
    ) -> Job:
        """Block until the job ends (any final status) and return it with its result. Follows
        the event stream; polls if the stream is not available."""
        deadline = Deadline(timeout)
        try:
            # aclosing: leaving at the final event closes the stream now, not at garbage collection
            async with aclosing(self.events(job_id, timeout=timeout)) as events:
                async for event in events:
                    if on_event is not None:
                        on_event(event)
                    if event.is_final:
                        return await self.get(job_id)
        except APIError as e:
            if not stream_fallback(e):
                raise
        except ConnectionFailed:
            pass  # the stream broke (a restarting API, a proxy): polling tells the truth
        # No final event (refused, broken or closed early): the job itself says where it is.
        return await self._poll(job_id, deadline, on_event)

    async def _poll(self, job_id: str, deadline: Deadline, on_event: EventCallback | None) -> Job:
        interval, reported = POLL_INTERVAL, -1.0
        while True:
            # A long poll: the job's end comes back at once; progress at least every LONG_POLL s.
            remaining = deadline.remaining()
            wait = LONG_POLL if remaining is None else min(LONG_POLL, remaining)
            job = await self.get(job_id, wait=wait) if wait > 0 else await self.get(job_id)
            if on_event is not None and job.progress != reported:
                reported = job.progress
                on_event(progress_event(job))
            if job.status.is_terminal:
                return job
            if deadline.passed:
                raise WaitTimeout(job_id, deadline.timeout or 0)
            await asyncio.sleep(deadline.sleep_for(interval))
            interval = min(interval * 1.5, POLL_INTERVAL_MAX)

    async def transcript(
        self, job_id: str, format: str = "text", **limits: Any
    ) -> str | dict[str, Any]:  # noqa: A002
        """The finished transcript: `text`, `srt`, `vtt`, `tsv` (a string) or `json`,
        `verbose_json`, `diarized_json` (a dict). `limits`: `max_line_width`, `max_line_count`,
        `max_cue_seconds`."""
        params = transcript_params(format, limits)
        return transcript_body(
            await self._request("GET", f"/v1/jobs/{job_id}/transcript", params=params)
        )

    async def cancel(self, job_id: str) -> None:
        """Cancel a queued or running job; for a finished job, delete its data."""
        await self._request("DELETE", f"/v1/jobs/{job_id}")

    async def list(self, *, limit: int = 50, status: JobStatus | str | None = None) -> list[Job]:
        """This key's jobs, newest first, without results."""
        params = form_fields({"limit": limit, "status": status})
        return parse_jobs(await self._request("GET", "/v1/jobs", params=params))

    async def models(self) -> builtins.list[ModelInfo]:
        """The models this service offers (and `whisper-1`, its default's alias)."""
        return models_of(await self._request("GET", "/v1/models"))
