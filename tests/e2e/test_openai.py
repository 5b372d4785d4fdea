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

from app.core.auth import new_key
from app.core.embedded import EmbeddedRedis, free_port
from tests.conftest import DATA, JFK, JFK_TEXT
from tests.e2e.conftest import Service, _start
from tests.transcripts import reference, wer


@pytest.fixture(scope="module")
def client(service: Service) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{service.url}/v1", api_key="unused-open-service", max_retries=0)


def transcribe(client: openai.OpenAI, path: Path = JFK, **kwargs):
    with path.open("rb") as f:
        return client.audio.transcriptions.create(model="whisper-1", file=f, **kwargs)


def test_json(client: openai.OpenAI, jfk_text: str) -> None:
    result = transcribe(client)
    assert result.text == jfk_text
    assert wer(JFK_TEXT, result.text) <= 0.1
    assert result.usage is not None
    assert (result.usage.type, result.usage.seconds) == ("duration", 11)  # type: ignore[union-attr]


def test_streaming_delivers_deltas_then_the_text(client: openai.OpenAI, jfk_text: str) -> None:
    with JFK.open("rb") as f:
        stream = client.audio.transcriptions.create(model="whisper-1", file=f, stream=True)
        events = list(stream)
    kinds = [e.type for e in events]
    assert kinds[-1] == "transcript.text.done" and set(kinds[:-1]) == {"transcript.text.delta"}
    assert len(kinds) >= 2
    deltas = "".join(e.delta for e in events[:-1])  # type: ignore[union-attr]
    assert deltas.strip() == events[-1].text == jfk_text  # type: ignore[union-attr]


def test_streaming_other_formats_is_a_bad_request(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info, JFK.open("rb") as f:
        client.audio.transcriptions.create(
            model="whisper-1", file=f, stream=True, response_format="srt"
        )
    assert info.value.body["param"] == "stream"


def test_models_as_openai_lists_them(client: openai.OpenAI) -> None:
    models = {m.id: m for m in client.models.list()}
    assert {"whisper-1", "base", "tiny.en"} <= set(models)
    assert models["whisper-1"].object == "model" and models["whisper-1"].owned_by
    assert client.models.retrieve("whisper-1").id == "whisper-1"
    with pytest.raises(openai.NotFoundError) as info:
        client.models.retrieve("gpt-4o")
    assert info.value.body["code"] == "model_not_found"
    assert info.value.body["type"] == "invalid_request_error"


def test_invalid_requests_are_400_in_openais_shape(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        transcribe(client, language="xx")
    assert info.value.status_code == 400
    assert set(info.value.body) == {"message", "type", "param", "code"}
    assert info.value.body["type"] == "invalid_request_error"
    assert info.value.body["code"] == "invalid_request"
    with pytest.raises(openai.BadRequestError) as unknown, JFK.open("rb") as f:
        client.audio.transcriptions.create(model="no-such-model", file=f)
    assert unknown.value.body["code"] == "model_not_available"


def test_text(client: openai.OpenAI, jfk_text: str) -> None:
    assert transcribe(client, response_format="text").strip() == jfk_text


def test_srt_and_vtt(client: openai.OpenAI, jfk_text: str) -> None:
    # Cues follow the subtitle defaults (42 characters a line, 2 lines, 7 s): 11 s is 2 cues.
    cues = list(srt.parse(transcribe(client, response_format="srt")))
    assert " ".join(" ".join(c.content.split()) for c in cues) == " ".join(jfk_text.split())
    assert len(cues) >= 2 and all(len(line) <= 42 for c in cues for line in c.content.split("\n"))
    import io

    captions = webvtt.from_buffer(io.StringIO(transcribe(client, response_format="vtt")))
    assert " ".join(" ".join(c.text.split()) for c in captions) == " ".join(jfk_text.split())
    assert all(c.end_in_seconds - c.start_in_seconds <= 7.0 for c in captions)


def test_verbose_json_with_words(client: openai.OpenAI, models_dir: Path) -> None:
    result = transcribe(
        client, response_format="verbose_json", timestamp_granularities=["word", "segment"]
    )
    assert result.language == "english" and result.duration == 11.0
    expected = reference(models_dir, "base", JFK, word_timestamps=True)
    assert result.text == expected.text
    assert result.usage is not None and result.usage.seconds == 11  # type: ignore[union-attr]
    assert [w.word for w in result.words] == expected.words
    assert [s.text for s in result.segments] == expected.texts
    assert wer(JFK_TEXT, result.text) <= 0.1


def test_word_granularity_needs_verbose_json(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        transcribe(client, response_format="json", timestamp_granularities=["word"])
    assert info.value.body["code"] == "invalid_request"
    assert info.value.body["param"] == "timestamp_granularities[]"


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


KEY, ENTRY = new_key("sdk")


@pytest.fixture(scope="module")
def api_without_worker(
    redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """An API with a key and no worker: jobs wait, and the sync timeout is 1 s."""
    root = tmp_path_factory.mktemp("sync-timeout")
    port = free_port()
    env = {
        **os.environ,
        "WHISPER_JOBS_REDIS_URL": redis_server.url.rsplit("/", 1)[0] + "/7",
        "WHISPER_JOBS_DATA_DIR": str(root / "data"),
        "PORT": str(port),
        "WHISPER_JOBS_SYNC_TIMEOUT_SECONDS": "1",
        "WHISPER_JOBS_API_KEYS": ENTRY,
    }
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
    client = openai.OpenAI(base_url=f"{api_without_worker}/v1", api_key=KEY, max_retries=0)
    with pytest.raises(openai.InternalServerError) as info:
        transcribe(client)
    assert info.value.status_code == 504
    body = info.value.body
    assert body["code"] == "sync_timeout" and body["type"] == "server_error"
    job_id = body["message"].split("job ")[1].split(":")[0]
    job = httpx.get(
        f"{api_without_worker}/v1/jobs/{job_id}", headers={"Authorization": f"Bearer {KEY}"}
    ).json()
    assert job["status"] == "queued"  # it carries on; the caller can poll it


def test_a_wrong_key_is_an_authentication_error(api_without_worker: str) -> None:
    client = openai.OpenAI(base_url=f"{api_without_worker}/v1", api_key="wj_wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as info:
        transcribe(client)
    assert info.value.body["type"] == "authentication_error"
    with pytest.raises(openai.AuthenticationError):
        client.models.list()
