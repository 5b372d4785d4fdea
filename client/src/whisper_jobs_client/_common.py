"""What the sync and async clients share: building requests, reading answers and errors,
and decoding the job event stream. No I/O here, so the two clients stay thin and alike."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

from whisper_jobs_client._errors import (
    APIError,
    AudioFileNotFound,
    ClientError,
    ConnectionFailed,
    error_for,
)
from whisper_jobs_client._models import Job, JobStatus, ModelInfo

#: A file to upload: a path, raw bytes, or an open binary file.
AudioSource = str | os.PathLike[str] | bytes | IO[bytes]
# A stream ends with the event named after the job's terminal status.
TERMINAL_EVENTS = frozenset(status.value for status in JobStatus if status.is_terminal)
#: The server sends a keep-alive comment every 15 s; a read that waits twice that is a dead link.
STREAM_READ_TIMEOUT = 30.0
POLL_INTERVAL = 0.5
# Seconds one long poll (`GET /v1/jobs/{id}?wait=`) may wait while `wait` polls.
LONG_POLL = 10.0
POLL_INTERVAL_MAX = 5.0
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
SERVER_ENV, KEY_ENV = "WHISPER_JOBS_SERVER", "WHISPER_JOBS_API_KEY"
DEFAULT_SERVER = "http://127.0.0.1:8000"


def server_and_key(url: str | None, api_key: str | None) -> tuple[str, str | None]:
    """Arguments win; else `WHISPER_JOBS_SERVER` / `WHISPER_JOBS_API_KEY`, as `OpenAI()` reads
    its own variables; else the local default server and no key."""
    return (
        url or os.environ.get(SERVER_ENV) or DEFAULT_SERVER,
        api_key if api_key is not None else os.environ.get(KEY_ENV) or None,
    )


def is_url(value: object) -> bool:
    return isinstance(value, str) and value.startswith(("http://", "https://"))


@dataclass(frozen=True)
class Event:
    """One event of a job's stream: `segment` (data: a segment), `progress` (data:
    `{"progress": 0..1}`), `processing`, or a final `completed`, `failed`, `canceled`."""

    kind: str
    data: dict[str, Any]

    @property
    def is_final(self) -> bool:
        return self.kind in TERMINAL_EVENTS


def form_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)  # e.g. a temperature fallback list
    if isinstance(value, dict):
        return json.dumps(value)  # metadata
    return str(value)


def form_fields(options: Mapping[str, Any]) -> dict[str, str]:
    """Job options as form fields; `None` means "the server's default" and is left out."""
    return {name: form_value(value) for name, value in options.items() if value is not None}


def open_source(source: AudioSource) -> tuple[str, IO[bytes] | bytes, IO[bytes] | None]:
    """(file name, content) for httpx's `files=`, and the file to close afterwards (a path is
    opened here; bytes and open files are the caller's)."""
    if isinstance(source, bytes):
        return "audio", source, None
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        try:
            opened = path.open("rb")
        except FileNotFoundError as e:
            raise AudioFileNotFound(f"No such audio file: {path}") from e
        return path.name, opened, opened
    return Path(getattr(source, "name", None) or "audio").name, source, None


@contextmanager
def submission(
    file: AudioSource | None,
    audio_url: str | None,
    idempotency_key: str | None,
    options: Mapping[str, Any],
) -> Iterator[dict[str, Any]]:
    """The keyword arguments of `POST /v1/jobs` (a path is open for the block's duration). A
    string that is an http(s) URL is the `audio_url`. Every submission carries an
    `Idempotency-Key` (a fresh one unless given), so retrying it cannot make a second job."""
    if is_url(file) and audio_url is None:
        file, audio_url = None, str(file)
    kwargs: dict[str, Any] = {
        "data": form_fields({**options, "audio_url": audio_url}),
        "headers": {"Idempotency-Key": idempotency_key or f"auto-{uuid.uuid4()}"},
    }
    if file is None:
        yield kwargs
        return
    name, content, opened = open_source(file)
    try:
        yield kwargs | {"files": {"file": (name, content)}}
    finally:
        if opened is not None:
            opened.close()


def check(response: httpx.Response) -> httpx.Response:
    """Raise the typed error for a refusal; return the response otherwise."""
    if response.is_success:
        return response
    code, message = f"http_{response.status_code}", response.reason_phrase
    try:
        error = response.json()["error"]
        code, message = str(error["code"]), str(error["message"])
    except (ValueError, KeyError, TypeError):
        pass  # not our contract (a proxy's page, say): keep the HTTP status as the code
    retry_after = response.headers.get("Retry-After")
    raise error_for(
        response.status_code,
        code,
        message,
        float(retry_after) if retry_after and retry_after.isdigit() else None,
    )


def transport_error(e: httpx.TransportError, url: object) -> ClientError:
    return ConnectionFailed(f"could not reach {url} ({type(e).__name__}: {e})")


def stream_fallback(e: APIError) -> bool:
    """Event stream refused in a way polling may get around (a proxy that does not stream,
    an older server): poll. Refusals about the job itself (401, 404) are the answer."""
    return e.status_code not in (401, 403, 404)


def transcript_params(format: str, limits: Mapping[str, Any]) -> dict[str, str]:  # noqa: A002
    return {"format": format} | form_fields(limits)


def transcript_body(response: httpx.Response) -> str | dict[str, Any]:
    if response.headers.get("content-type", "").startswith("application/json"):
        body: dict[str, Any] = response.json()
        return body
    return response.text


def models_of(response: httpx.Response) -> list[ModelInfo]:
    return [ModelInfo.model_validate(m) for m in response.json()["data"]]


def parse_job(response: httpx.Response) -> Job:
    return Job.model_validate_json(response.content)


def parse_jobs(response: httpx.Response) -> list[Job]:
    return [Job.model_validate(item) for item in response.json()["data"]]


@dataclass
class EventDecoder:
    """Server-Sent Events, line by line, into `Event`s. Segments already seen are dropped, so a
    reconnect (the server replays a job's segments to a new stream) reports each one once."""

    _kind: str = "message"
    _data: list[str] = field(default_factory=list)
    _last_segment: int = -1

    def feed(self, line: str) -> Event | None:
        if line.startswith(":"):
            return None  # keep-alive comment
        if line:
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "event":
                self._kind = value
            elif name == "data":
                self._data.append(value)
            return None
        if not self._data:
            return None
        event = Event(self._kind, json.loads("\n".join(self._data)))
        self._kind, self._data = "message", []
        if event.kind == "processing":
            self._last_segment = -1  # a redelivered job decodes its segments again
        if event.kind == "segment":
            if event.data["id"] <= self._last_segment:
                return None
            self._last_segment = event.data["id"]
        return event


@dataclass
class Deadline:
    timeout: float | None
    start: float = field(default_factory=time.monotonic)

    def remaining(self) -> float | None:
        if self.timeout is None:
            return None
        return self.timeout - (time.monotonic() - self.start)

    @property
    def passed(self) -> bool:
        left = self.remaining()
        return left is not None and left <= 0

    def read_timeout(self) -> httpx.Timeout:
        left = self.remaining()
        read = STREAM_READ_TIMEOUT if left is None else max(0.1, min(left, STREAM_READ_TIMEOUT))
        return httpx.Timeout(DEFAULT_TIMEOUT.connect, read=read)

    def sleep_for(self, interval: float) -> float:
        left = self.remaining()
        return interval if left is None else max(0.0, min(interval, left))


def progress_event(job: Job) -> Event:
    return Event("progress", {"progress": job.progress})


def headers(api_key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}
