"""Features over real HTTP with the real worker: live events, output formats, per-model queues."""

from __future__ import annotations

import json
import time
from pathlib import Path

import srt

from tests.conftest import DATA, JFK, JFK_TEXT
from tests.data.make_audio import RIGHT_CHANNEL
from tests.e2e.conftest import NO_LOOPS, Service
from tests.transcripts import reference, wer


def read_events(service: Service, job_id: str) -> list[tuple[str, dict]]:
    events: list[tuple[str, dict]] = []
    with service.http.stream("GET", f"/v1/jobs/{job_id}/events", timeout=180) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        kind = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                kind = line[len("event: ") :]
            elif line.startswith("data: "):
                assert kind is not None
                events.append((kind, json.loads(line[len("data: ") :])))
    return events


def test_late_event_client_gets_every_segment_once_in_order(
    service: Service, long_speech: Path
) -> None:
    job_id = service.submit(long_speech, **NO_LOOPS)["id"]  # deterministic segments
    deadline = time.monotonic() + 120
    while service.http.get(f"/v1/jobs/{job_id}").json()["progress"] == 0:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    events = read_events(service, job_id)  # connects mid-job: one segment is already done
    kinds = [k for k, _ in events]
    assert kinds[-1] == "completed"
    assert kinds.count("completed") == 1
    assert events[-1][1]["job"]["status"] == "completed"
    segments = [data for kind, data in events if kind == "segment"]
    result = service.http.get(f"/v1/jobs/{job_id}").json()["result"]
    assert len(result["segments"]) >= 3
    assert segments == result["segments"]
    progress = [data["progress"] for kind, data in events if kind == "progress"]
    assert progress == sorted(progress)
    # after the end, a client gets the whole replay and the final event at once
    assert read_events(service, job_id) == [("segment", s) for s in segments] + [events[-1]]


def test_transcript_formats_over_http(service: Service) -> None:
    job = service.wait(service.submit(JFK, word_timestamps="true")["id"])
    assert job["status"] == "completed"
    url = f"/v1/jobs/{job['id']}/transcript"
    response = service.http.get(
        url, params={"format": "srt", "max_line_width": "32", "max_line_count": "1"}
    )
    assert response.headers["content-type"].startswith("application/x-subrip")
    assert response.headers["content-disposition"] == 'inline; filename="jfk.srt"'
    cues = list(srt.parse(response.text))
    assert len(cues) > 1 and all(len(c.content) <= 32 for c in cues)
    assert " ".join(c.content for c in cues) == job["result"]["text"]
    verbose = service.http.get(url, params={"format": "verbose_json"}).json()
    assert verbose["language"] == "english" and verbose["duration"] == 11.0
    segments_text = "".join(s["text"] for s in job["result"]["segments"])
    assert "".join(w["word"] for w in verbose["words"]) == segments_text
    vtt = service.http.get(url, params={"format": "vtt"})
    assert vtt.headers["content-type"].startswith("text/vtt") and vtt.text.startswith("WEBVTT")
    tsv = service.http.get(url, params={"format": "tsv"}).text
    assert tsv.splitlines()[1].startswith("0\t")


def test_an_english_only_model_job_runs_on_its_own_queue(
    service: Service, models_dir: Path
) -> None:
    job = service.wait(service.submit(JFK, model="tiny.en")["id"])
    assert job["status"] == "completed"
    assert job["result"]["model"] == "tiny.en"
    expected = reference(models_dir, "tiny.en", JFK)
    assert [s["text"] for s in job["result"]["segments"]] == expected.texts
    assert wer(JFK_TEXT, job["result"]["text"]) <= 0.1


def test_split_channels_end_to_end(service: Service, models_dir: Path) -> None:
    from faster_whisper import decode_audio

    job = service.wait(service.submit(DATA / "stereo.wav", channels="split")["id"])
    assert job["status"] == "completed"
    left, right = decode_audio(str(DATA / "stereo.wav"), split_stereo=True)
    by_channel = {
        ch: [s["text"] for s in job["result"]["segments"] if s["channel"] == ch] for ch in (0, 1)
    }
    assert by_channel == {
        0: reference(models_dir, "base", left, label="stereo-left").texts,
        1: reference(models_dir, "base", right, label="stereo-right").texts,
    }
    assert wer(JFK_TEXT, "".join(by_channel[0])) <= 0.1
    assert wer(RIGHT_CHANNEL, "".join(by_channel[1])) <= 0.35  # nine synthetic words
