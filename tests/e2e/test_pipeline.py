"""Submit over HTTP, let the real worker run the real model, poll, fetch the transcript."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import redis

from app.contract.jobs import queue_for
from tests.conftest import DATA, JFK, JFK_TEXT
from tests.e2e.conftest import Service, uploads_left
from tests.transcripts import reference, wer


def uploads(service: Service) -> list[Path]:
    return list((service.data_dir / "uploads").iterdir())


def wait_queue_drained(service: Service, timeout: float = 60) -> None:
    client = redis.Redis.from_url(service.redis_url)
    try:
        for _ in range(int(timeout * 10)):
            if client.llen(queue_for("base")) == 0 and not uploads(service):
                return
            time.sleep(0.1)
    finally:
        client.close()
    raise AssertionError("queue not drained")


def test_ready_with_a_worker(service: Service) -> None:
    response = service.http.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"redis": True, "workers": 1}


def test_jfk_end_to_end(service: Service, models_dir: Path) -> None:
    submitted = service.submit(JFK, metadata='{"caller": "e2e"}')
    assert submitted["status"] == "queued"
    job = service.wait(submitted["id"])
    assert job["status"] == "completed", job
    assert job["progress"] == 1.0
    assert job["error"] is None
    assert job["metadata"] == {"caller": "e2e"}
    created, started, completed = (
        datetime.fromisoformat(job[k]) for k in ("created_at", "started_at", "completed_at")
    )
    assert created <= started <= completed
    result = job["result"]
    assert result["model"] == "base"
    assert result["language"] == "en"
    assert result["language_probability"] > 0.9
    assert result["duration"] == 11.0
    expected = reference(models_dir, "base", JFK)  # faster-whisper itself, same options
    assert [(s["start"], s["end"]) for s in result["segments"]] == expected.spans_within(11.0)
    assert [s["text"] for s in result["segments"]] == expected.texts
    assert [s["id"] for s in result["segments"]] == list(range(len(expected.texts)))
    assert result["text"] == expected.text
    assert wer(JFK_TEXT, result["text"]) <= 0.1
    transcript = service.http.get(f"/v1/jobs/{job['id']}/transcript")
    assert transcript.json() == result
    text = service.http.get(f"/v1/jobs/{job['id']}/transcript", params={"format": "text"})
    assert text.headers["content-type"].startswith("text/plain")
    assert text.text == result["text"] + "\n"
    assert uploads_left(service.data_dir, job["id"]) == []


def test_not_audio_is_refused_at_submit(service: Service, tmp_path: Path) -> None:
    bogus = tmp_path / "report.pdf"
    bogus.write_bytes(b"%PDF-1.4 this is not a recording\n" * 100)
    with bogus.open("rb") as f:
        response = service.http.post("/v1/jobs", files={"file": (bogus.name, f)})
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media"
    assert uploads(service) == []


def test_corrupt_audio_that_passes_the_probe_fails_with_invalid_audio(service: Service) -> None:
    job = service.wait(service.submit(DATA / "corrupt.flac")["id"])
    assert job["status"] == "failed"
    assert job["error"]["code"] == "invalid_audio"
    assert job["result"] is None
    assert uploads_left(service.data_dir, job["id"]) == []


def test_silence_completes_with_no_segments(service: Service) -> None:
    job = service.wait(service.submit(DATA / "silence.wav")["id"])
    assert job["status"] == "completed"
    assert job["result"]["segments"] == []
    assert job["result"]["duration"] == 5.0


def test_cancel_a_queued_job(service: Service, long_speech: Path) -> None:
    busy = service.submit(long_speech)
    queued = service.submit(JFK)
    assert service.http.get(f"/v1/jobs/{queued['id']}").json()["status"] == "queued"
    assert service.http.delete(f"/v1/jobs/{queued['id']}").status_code == 204
    assert service.wait(busy["id"])["status"] == "completed"
    wait_queue_drained(service)  # the worker took the canceled job's message and skipped it
    job = service.http.get(f"/v1/jobs/{queued['id']}").json()
    assert job["status"] == "canceled"
    assert job["started_at"] is None and job["result"] is None


def test_cancel_a_running_job_at_a_segment_boundary(service: Service, long_speech: Path) -> None:
    submitted = service.submit(long_speech)
    deadline = time.monotonic() + 120
    while (job := service.http.get(f"/v1/jobs/{submitted['id']}").json())["progress"] == 0:
        assert job["status"] in {"queued", "processing"}
        assert time.monotonic() < deadline
    assert job["status"] == "processing"
    assert service.http.delete(f"/v1/jobs/{submitted['id']}").status_code == 204
    wait_queue_drained(service)  # the worker stopped and removed the upload
    job = service.http.get(f"/v1/jobs/{submitted['id']}").json()
    assert job["status"] == "canceled"
    assert job["result"] is None
    assert 0 < job["progress"] < 1
    # the worker is free again: the next job runs to completion
    assert service.wait(service.submit(JFK)["id"])["status"] == "completed"
