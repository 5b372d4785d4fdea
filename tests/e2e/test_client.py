"""The Python client and the `whisper-jobs` client commands against a running service with keys:
real HTTP, Redis, Celery worker and model."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import srt
import webvtt
from whisper_jobs_client import (
    AsyncClient,
    AuthenticationError,
    Client,
    ConflictError,
    Event,
    InvalidRequestError,
    JobFailedError,
    JobStatus,
    NotFoundError,
    WaitTimeout,
)

from app.core.auth import new_key
from app.core.embedded import EmbeddedRedis
from tests.conftest import DATA, JFK, JFK_TEXT
from tests.e2e.conftest import ROOT, Cluster, cluster_on_db
from tests.transcripts import wer

KEY, ENTRY = new_key("client-tests")


@pytest.fixture(scope="module")
def cluster(
    redis_server: EmbeddedRedis, models_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("client")
    with cluster_on_db(
        redis_server,
        8,
        root,
        models_dir,
        WHISPER_JOBS_API_KEYS=ENTRY,
        WHISPER_JOBS_LOG_FORMAT="json",
    ) as c:
        yield c


@pytest.fixture
def client(cluster: Cluster) -> Iterator[Client]:
    with Client(cluster.url, KEY) as c:
        yield c


def cue_text(cues: object) -> str:
    """The cues' words in order (a cue's lines joined as one)."""
    return " ".join(" ".join(c.content.split()) for c in cues)  # type: ignore[attr-defined]


def caption_text(captions: object) -> str:
    return " ".join(" ".join(c.text.split()) for c in captions)  # type: ignore[attr-defined]


def test_transcribe_waits_on_the_event_stream(client: Client, jfk_greedy_text: str) -> None:
    events: list[Event] = []
    job = client.transcribe(JFK, wait=True, temperature=0, on_event=events.append)
    assert job.status is JobStatus.COMPLETED and job.result is not None
    assert job.result.text == jfk_greedy_text
    assert wer(JFK_TEXT, job.result.text) <= 0.1
    kinds = [e.kind for e in events]
    assert kinds.count("segment") == len(job.result.segments) and kinds[-1] == "completed", kinds
    assert [e.data["progress"] for e in events if e.kind == "progress"][-1] == 1.0
    assert client.transcript(job.id, "json")["text"] == job.result.text  # type: ignore[index]
    assert cue_text(srt.parse(client.transcript(job.id, "srt"))) == job.result.text.strip()  # type: ignore[arg-type]
    assert job.id in [j.id for j in client.list(status="completed")]


def test_async_client(cluster: Cluster, jfk_greedy_text: str) -> None:
    async def run() -> tuple[str, str]:
        async with AsyncClient(cluster.url, KEY) as client:
            job = await client.transcribe(JFK.read_bytes(), temperature=0)
            assert job.result is not None
            vtt = await client.transcript(job.id, "vtt")
            assert isinstance(vtt, str)
            return job.result.text, vtt

    text, vtt = asyncio.run(run())
    assert text == jfk_greedy_text
    captions = webvtt.from_buffer(io.StringIO(vtt))
    assert caption_text(captions) == " ".join(text.split())


def test_errors_carry_the_api_code(cluster: Cluster, client: Client) -> None:
    with Client(cluster.url, "wj_not-a-key") as stranger, pytest.raises(AuthenticationError) as e:
        stranger.list()
    assert e.value.code == "unauthorized"
    with pytest.raises(NotFoundError) as e2:
        client.get("no-such-job")
    assert e2.value.code == "not_found"
    with pytest.raises(InvalidRequestError) as e3:
        client.submit(JFK, language="xx")
    assert e3.value.code == "invalid_request" and "'xx'" in e3.value.message


def test_a_failed_job_raises_with_its_code(client: Client) -> None:
    with pytest.raises(JobFailedError) as e:
        client.transcribe(DATA / "corrupt.flac")
    assert e.value.code == "invalid_audio" and e.value.job.status is JobStatus.FAILED


def test_wait_timeout_then_cancel(client: Client, long_speech: Path) -> None:
    job = client.submit(long_speech)
    with pytest.raises(WaitTimeout):
        client.wait(job.id, timeout=0.3)
    client.cancel(job.id)
    assert client.wait(job.id, timeout=60).status is JobStatus.CANCELED
    with pytest.raises(ConflictError) as e:
        client.transcript(job.id)
    assert e.value.code == "job_not_completed"


class NoStreaming(httpx.HTTPTransport):
    """Like a proxy that will not stream: the event stream answers 502."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/events"):
            return httpx.Response(502, request=request)
        return super().handle_request(request)


def test_wait_polls_when_the_event_stream_is_unavailable(
    cluster: Cluster, jfk_greedy_text: str
) -> None:
    events: list[Event] = []
    with Client(cluster.url, KEY, transport=NoStreaming()) as client:
        job = client.transcribe(JFK, temperature=0, on_event=events.append)
    assert job.result is not None and job.result.text == jfk_greedy_text
    assert events and events[-1].kind == "progress" and events[-1].data["progress"] == 1.0
    assert not any(e.kind == "segment" for e in events)  # none came from a stream


def cli(cluster: Cluster, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WHISPER_JOBS_SERVER": cluster.url, "WHISPER_JOBS_API_KEY": KEY}
    if "--server" in args:  # given on the command line: nothing from the environment
        env = {
            k: v for k, v in env.items() if k not in ("WHISPER_JOBS_SERVER", "WHISPER_JOBS_API_KEY")
        }
    return subprocess.run(
        [sys.executable, "-m", "app.core.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_cli_submit_wait_writes_srt(cluster: Cluster, tmp_path: Path) -> None:
    out = tmp_path / "jfk.srt"
    # The server and key before the command, as people type them (and none in the environment).
    run = cli(
        cluster,
        "--server",
        cluster.url,
        "--api-key",
        KEY,
        "submit",
        str(JFK),
        "--wait",
        "--format",
        "srt",
        "-o",
        str(out),
        "--language",
        "en",
    )
    assert run.returncode == 0, run.stderr
    cues = list(srt.parse(out.read_text()))
    assert wer(JFK_TEXT, cue_text(cues)) <= 0.1
    assert cues[0].start.total_seconds() == 0.0 and 10.0 <= cues[-1].end.total_seconds() <= 11.0


def test_cli_several_files_one_fails_exit_1(cluster: Cluster, tmp_path: Path) -> None:
    run = cli(
        cluster,
        "submit",
        str(JFK),
        str(DATA / "corrupt.flac"),
        "--wait",
        "-o",
        str(tmp_path / "out"),
    )
    assert run.returncode == 1, run.stderr
    assert wer(JFK_TEXT, (tmp_path / "out" / "jfk.txt").read_text()) <= 0.1
    assert not (tmp_path / "out" / "corrupt.txt").exists()
    assert "invalid_audio" in run.stderr


def test_cli_submit_status_get_cancel_list(cluster: Cluster, client: Client) -> None:
    run = cli(cluster, "submit", str(JFK))
    assert run.returncode == 0, run.stderr
    job_id, label = run.stdout.strip().split("\t")
    assert label == str(JFK)
    client.wait(job_id, timeout=120)
    status = cli(cluster, "status", job_id)
    assert status.returncode == 0 and status.stdout.split()[:3] == [job_id, "completed", "100%"]
    vtt = cli(
        cluster,
        "get",
        job_id,
        "--format",
        "vtt",
        "--max-line-width",
        "20",
        "--max-cue-seconds",
        "4",
    )
    captions = webvtt.from_buffer(io.StringIO(vtt.stdout))
    text = client.get(job_id).result.text  # type: ignore[union-attr]
    assert caption_text(captions) == " ".join(text.split())
    assert all(len(line) <= 20 for c in captions for line in c.lines), vtt.stdout
    assert all(c.end_in_seconds - c.start_in_seconds <= 4.0 for c in captions), vtt.stdout
    assert len(captions) >= 3  # 11 s of speech in cues of 4 s at most
    listing = cli(cluster, "list", "--status", "completed")
    assert listing.returncode == 0 and job_id in listing.stdout
    cancel = cli(cluster, "cancel", job_id)  # a finished job: its data is deleted
    assert cancel.returncode == 0 and f"{job_id}: deleted" in cancel.stderr
    gone = cli(cluster, "status", job_id)
    assert gone.returncode == 1 and "not_found" in gone.stderr


def test_cli_usage_errors_exit_2(cluster: Cluster, tmp_path: Path) -> None:
    assert cli(cluster, "submit").returncode == 2
    missing = cli(cluster, "submit", str(tmp_path / "nope.flac"))
    assert missing.returncode == 2 and "no such file" in missing.stderr
    assert cli(cluster, "get").returncode == 2
    assert cli(cluster, "submit", str(JFK), "--format", "docx").returncode == 2


def test_cli_without_a_key_is_refused(cluster: Cluster) -> None:
    env = {k: v for k, v in os.environ.items() if k != "WHISPER_JOBS_API_KEY"}
    run = subprocess.run(
        [sys.executable, "-m", "app.core.cli", "list", "--server", cluster.url],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 1 and "unauthorized" in run.stderr


def test_metrics_count_a_completed_job(cluster: Cluster, client: Client) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    def read() -> dict[tuple[str, str], float]:
        text = httpx.get(f"{cluster.url}/metrics").text
        return {
            (s.name, s.labels.get("status", "")): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
            if s.labels.get("model") == "base" and "le" not in s.labels
        }

    before = read()
    client.transcribe(JFK, temperature=0)
    after = read()
    completed = ("whisper_jobs_jobs_finished_total", "completed")
    assert after[completed] == before.get(completed, 0) + 1
    audio = ("whisper_jobs_job_audio_seconds_sum", "")
    assert after[audio] == before.get(audio, 0) + 11.0
    count = ("whisper_jobs_job_real_time_factor_count", "")
    assert after[count] == before.get(count, 0) + 1
    assert after[("whisper_jobs_jobs", "processing")] == 0


def json_lines(path: Path) -> list[dict]:
    """The log lines. Celery itself prints a few plain lines outside logging (its warning about
    running as root, before logging is set up; "Warm shutdown"); everything else is JSON."""
    text = path.read_text()
    lines = text.split("\n")[:-1]  # a last line without its newline is still being written
    return [json.loads(line) for line in lines if line.startswith("{")]


def test_json_logs_tag_lines_with_the_job_id(cluster: Cluster, client: Client) -> None:
    job = client.transcribe(JFK, temperature=0)
    api = json_lines(cluster.logs / "api.log")
    assert {"job_id": job.id, "model": "base", "message": f"job {job.id} queued"}.items() <= next(
        e for e in api if e.get("job_id") == job.id
    ).items()
    assert any(
        e["logger"] == "uvicorn.access" and f"/v1/jobs/{job.id}" in e["message"] for e in api
    )
    deadline = time.monotonic() + 60  # the worker logs the end just after it writes it
    while True:
        worker = [e for e in json_lines(cluster.logs / "worker.log") if e.get("job_id") == job.id]
        ended = [e for e in worker if e["message"].startswith(f"job {job.id} completed")]
        if ended or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert ended, worker
    done = ended[0]
    assert done["audio_seconds"] == 11.0 and done["level"] == "INFO"
    # Library lines logged while the job runs carry its id too (they run inside job_context).
    assert any(e["logger"] == "faster_whisper" for e in worker), worker


def test_cli_tells_how_to_pass_a_key_on_401(cluster: Cluster) -> None:
    env = {**os.environ, "WHISPER_JOBS_SERVER": cluster.url, "WHISPER_JOBS_API_KEY": "wj_wrong"}
    run = subprocess.run(
        [sys.executable, "-m", "app.core.cli", "list"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 1
    assert "unauthorized" in run.stderr and "--api-key" in run.stderr
    assert "WHISPER_JOBS_API_KEY" in run.stderr


def test_cli_submits_with_job_options(cluster: Cluster, client: Client) -> None:
    flags = [
        "--metadata",
        '{"via": "cli"}',
        "--no-condition-on-previous-text",
        "--beam-size",
        "2",
        "--prompt",
        "Kennedy.",
    ]
    run = cli(cluster, "submit", str(JFK), *flags)
    assert run.returncode == 0, run.stderr
    job = client.get(run.stdout.split("\t")[0])
    assert job.metadata == {"via": "cli"}
    assert job.options.beam_size == 2 and job.options.condition_on_previous_text is False
    assert job.options.initial_prompt == "Kennedy."
    client.cancel(job.id)


def test_models_are_typed(client: Client) -> None:
    from whisper_jobs_client import ModelInfo

    models = client.models()
    assert all(isinstance(m, ModelInfo) for m in models)
    (alias,) = [m for m in models if m.id == "whisper-1"]
    assert alias.alias_of in {m.id for m in models if m.default}
