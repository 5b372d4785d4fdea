"""The OpenAI-compatible endpoints, with the official `openai` package as the client."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
import srt
import webvtt

from app.embedded import EmbeddedRedis, free_port
from tests.conftest import DATA, JFK, JFK_TEXT
from tests.e2e.conftest import Service, _start
from tests.transcripts import reference, wer


@pytest.fixture(scope="module")
def client(service: Service) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{service.url}/v1", api_key="unused-open-service",
                         max_retries=0)  # fmt: skip


def transcribe(client: openai.OpenAI, path: Path = JFK, **kwargs):
    with path.open("rb") as f:
        return client.audio.transcriptions.create(model="whisper-1", file=f, **kwargs)


def test_json(client: openai.OpenAI, jfk_text: str) -> None:
    text = transcribe(client).text
    assert text == jfk_text
    assert wer(JFK_TEXT, text) <= 0.1


def test_text(client: openai.OpenAI, jfk_text: str) -> None:
    assert transcribe(client, response_format="text").strip() == jfk_text


def test_srt_and_vtt(client: openai.OpenAI, jfk_text: str) -> None:
    cues = srt.parse(transcribe(client, response_format="srt"))
    assert " ".join(c.content for c in cues) == jfk_text
    import io

    captions = webvtt.from_buffer(io.StringIO(transcribe(client, response_format="vtt")))
    assert " ".join(c.text for c in captions) == jfk_text


def test_verbose_json_with_words(client: openai.OpenAI, models_dir: Path) -> None:
    result = transcribe(client, response_format="verbose_json",
                        timestamp_granularities=["word", "segment"])  # fmt: skip
    assert result.language == "english" and result.duration == 11.0
    expected = reference(models_dir, "base", JFK, word_timestamps=True)
    assert result.text == expected.text
    assert [w.word for w in result.words] == expected.words
    assert [s.text for s in result.segments] == expected.texts
    assert wer(JFK_TEXT, result.text) <= 0.1


def test_word_granularity_needs_verbose_json(client: openai.OpenAI) -> None:
    with pytest.raises(openai.UnprocessableEntityError) as info:
        transcribe(client, response_format="json", timestamp_granularities=["word"])
    assert info.value.body["code"] == "invalid_request"


# This openai release marks `audio.translations` deprecated; callers still use it, so it is tested.
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_translation(client: openai.OpenAI, models_dir: Path) -> None:
    with (DATA / "de.wav").open("rb") as f:
        result = client.audio.translations.create(model="base", file=f, temperature=0.0)
    expected = reference(models_dir, "base", DATA / "de.wav", task="translate", temperature=[0.0])
    assert result.text == expected.text
    assert {"good", "morning"} <= set(result.text.lower().replace(",", " ").split())


def test_jobs_are_ordinary_jobs(client: openai.OpenAI, service: Service) -> None:
    transcribe(client, response_format="text")
    newest = service.http.get("/v1/jobs", params={"limit": 1}).json()["data"][0]
    assert newest["status"] == "completed" and newest["filename"] == "jfk.flac"


@pytest.fixture(scope="module")
def api_without_worker(
    redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    root = tmp_path_factory.mktemp("sync-timeout")
    port = free_port()
    env = {**os.environ, "WHISPER_JOBS_REDIS_URL": redis_server.url.rsplit("/", 1)[0] + "/7",
           "WHISPER_JOBS_DATA_DIR": str(root / "data"), "PORT": str(port),
           "WHISPER_JOBS_SYNC_TIMEOUT_SECONDS": "1"}  # fmt: skip
    api = _start("api", env, root)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            httpx.get(f"{url}/healthz")
            break
        except httpx.TransportError:
            time.sleep(0.1)
    yield url
    api.terminate()
    api.wait(30)


def test_timeout_is_504_with_the_job_id(api_without_worker: str) -> None:
    client = openai.OpenAI(base_url=f"{api_without_worker}/v1", api_key="x", max_retries=0)
    with pytest.raises(openai.APIStatusError) as info:
        transcribe(client)
    assert info.value.status_code == 504
    body = info.value.body
    assert body["code"] == "sync_timeout"
    job_id = body["message"].split("job ")[1].split(":")[0]
    job = httpx.get(f"{api_without_worker}/v1/jobs/{job_id}").json()
    assert job["status"] == "queued"  # it carries on; the caller can poll it
