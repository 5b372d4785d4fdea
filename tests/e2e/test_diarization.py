"""Who said what, through the service: a real two-person conversation with `diarize=true` over
HTTP and through OpenAI's SDK (`diarized_json`), in every format; the words are faster-whisper's
own, with or without diarization."""

from __future__ import annotations

from pathlib import Path

import openai
import webvtt

from tests.e2e.conftest import Service
from tests.speaker_turns import TWO_SPEAKERS, der, rttm_turns
from tests.transcripts import reference, wer


def test_a_conversation_reads_as_two_speakers_in_every_format(
    service: Service, models_dir: Path
) -> None:
    form = {"diarize": "true", "word_timestamps": "true", "temperature": "0"}
    job = service.wait(service.submit(TWO_SPEAKERS, **form)["id"])
    assert job["status"] == "completed", job
    result = job["result"]
    # The words: faster-whisper's own with word timestamps (which diarization needs), at
    # temperature 0 (the fallback to sampling is random run to run). Word timestamps change
    # where faster-whisper seeks, so the text can differ from a job without them (WER 8 % on
    # this recording once): issue #29 asks for the same text, not met yet.
    expected = reference(models_dir, "base", TWO_SPEAKERS, word_timestamps=True, temperature=0.0)
    assert wer(expected.text, result["text"]) == 0.0
    segments = result["segments"]
    assert segments and all(s["speaker"] in {"A", "B"} for s in segments)
    assert [s["speaker"] for s in result["speakers"]] == ["A", "B"]
    assert all(w["speaker"] == s["speaker"] for s in segments for w in s["words"])
    assert [s["id"] for s in segments] == list(range(len(segments)))
    spoken = {t["speaker"]: t["seconds"] for t in result["speakers"]}
    assert min(spoken.values()) > 3.0  # both women speak for several seconds
    # Who spoke when, read off the segments, against the recording's reference turns.
    turns = [(s["start"], s["end"], s["speaker"]) for s in segments]
    assert der(rttm_turns(TWO_SPEAKERS.with_suffix(".rttm")), turns) <= 0.25

    url = f"/v1/jobs/{job['id']}/transcript"
    vtt = service.http.get(url, params={"format": "vtt"}).text
    captions = webvtt.from_string(vtt)
    assert captions and all(c.voice in {"A", "B"} for c in captions)
    srt_text = service.http.get(url, params={"format": "srt"}).text
    assert "\nA: " in srt_text and "\nB: " in srt_text
    text = service.http.get(url, params={"format": "text"}).text.splitlines()
    assert [line.split(":", 1)[0] for line in text] == [s["speaker"] for s in segments]
    tsv = service.http.get(url, params={"format": "tsv"}).text.splitlines()
    assert tsv[0] == "start\tend\tspeaker\ttext"
    assert [row.split("\t")[2] for row in tsv[1:]] == [s["speaker"] for s in segments]


def test_openai_sdk_diarized_json_and_its_stream(service: Service) -> None:
    client = openai.OpenAI(base_url=f"{service.url}/v1", api_key="unused", max_retries=0)
    with TWO_SPEAKERS.open("rb") as f:
        result = client.audio.transcriptions.create(
            model="whisper-1", file=f, response_format="diarized_json"
        )
    segments = result.segments  # type: ignore[union-attr]
    assert {s.speaker for s in segments} == {"A", "B"}
    assert all(s.type == "transcript.text.segment" and s.id.startswith("seg_") for s in segments)
    with TWO_SPEAKERS.open("rb") as f:
        stream = client.audio.transcriptions.create(
            model="whisper-1", file=f, response_format="diarized_json", stream=True
        )
        events = list(stream)
    streamed = [e for e in events if e.type == "transcript.text.segment"]
    assert [(e.speaker, e.text) for e in streamed] == [(s.speaker, s.text) for s in segments]
    assert events[-1].type == "transcript.text.done"


def test_speaker_counts_without_diarize_or_with_split_channels_are_refused(
    service: Service,
) -> None:
    for form in (
        {"num_speakers": "2"},
        {"diarize": "true", "channels": "split"},
        {"diarize": "true", "num_speakers": "2", "max_speakers": "3"},
        {"diarize": "true", "min_speakers": "4", "max_speakers": "2"},
        {"diarize": "true", "num_speakers": "21"},
    ):
        with TWO_SPEAKERS.open("rb") as f:
            response = service.http.post("/v1/jobs", files={"file": ("a.flac", f)}, data=form)
        assert response.status_code == 422, (form, response.text)
        assert response.json()["error"]["code"] == "invalid_request"
