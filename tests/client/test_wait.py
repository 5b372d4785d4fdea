"""`wait` when the event stream misbehaves, against a scripted transport standing in for the API
(the real service is in tests/e2e/test_client.py)."""

from __future__ import annotations

from collections import Counter

import httpx
import pytest
from whisper_jobs_client import Client, JobStatus, NotFoundError

from app.contract.jobs import Job, JobOptions, utcnow

JOB = Job(
    id="j1", status=JobStatus.COMPLETED, created_at=utcnow(), progress=1.0, options=JobOptions()
)


def scripted(stream: httpx.Response) -> tuple[httpx.MockTransport, Counter[str]]:
    calls: Counter[str] = Counter()

    def handle(request: httpx.Request) -> httpx.Response:
        calls[request.url.path] += 1
        if request.url.path.endswith("/events"):
            return stream
        return httpx.Response(200, content=JOB.model_dump_json())

    return httpx.MockTransport(handle), calls


def test_a_stream_closed_before_the_final_event_falls_back_to_the_job() -> None:
    transport, calls = scripted(
        httpx.Response(200, text='event: progress\ndata: {"progress": 0.5}\n\n')
    )
    events = []
    with Client("http://api", transport=transport) as client:
        job = client.wait("j1", on_event=events.append)
    assert job.status is JobStatus.COMPLETED
    assert calls == {"/v1/jobs/j1/events": 1, "/v1/jobs/j1": 1}  # one stream: no reconnect spin
    assert [e.kind for e in events] == ["progress", "progress"]  # the stream's, then the poll's


def test_not_found_on_the_stream_is_the_answer() -> None:
    body = {"error": {"code": "not_found", "message": "No job with id 'j1'."}}
    transport, calls = scripted(httpx.Response(404, json=body))
    with Client("http://api", transport=transport) as client, pytest.raises(NotFoundError):
        client.wait("j1")
    assert calls == {"/v1/jobs/j1/events": 1}
