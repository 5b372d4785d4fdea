"""Uploads in a bucket, across "hosts" that share nothing but Redis and the bucket: the API, two
workers and beat each run in a directory of their own with a data directory of their own, against
a real S3-protocol server (moto's, signatures checked; `tests/s3_server.py`) on loopback.

Each test ends with nothing left behind: no object under the deployment's prefix, no unfinished
multipart upload, no file in any data directory's uploads.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
import psutil
import pytest

from app.core.config import Settings
from app.core.embedded import EmbeddedRedis, free_port
from app.core.settings_errors import CONFIGURATION_ERROR
from tests.conftest import DATA, JFK
from tests.e2e.conftest import Cluster, loopback_http_server
from tests.s3_server import S3Server
from tests.transcripts import reference, wer

PREFIX = "deployment-a"
WORKERS = ("worker-1", "worker-2")
BATCHING = "worker-2"  # decodes up to two jobs together (a pool of threads)
SLOTS = 3  # jobs the two workers run at once


class Hosts(Cluster):
    """A cluster whose every process has its own working and data directory."""

    root: Path

    def start(self, name: str) -> None:
        home = self.root / name
        (home / "data").mkdir(parents=True, exist_ok=True)
        env = {**self.env, "WHISPER_JOBS_DATA_DIR": str(home / "data")}
        if name == BATCHING:
            env["WHISPER_JOBS_BATCH_JOBS"] = "2"
        if name in WORKERS:  # two workers on one machine: Celery needs a name for each
            argv = worker_argv(name, batch_jobs=2 if name == BATCHING else 1)
        else:
            argv = [sys.executable, "-m", "app.core.cli", name]
        with (self.logs / f"{name}.log").open("wb") as out:
            self.procs[name] = subprocess.Popen(argv, cwd=home, env=env, stdout=out, stderr=out)

    def data_files(self) -> list[Path]:
        """Every upload or working copy left in any process's data directory."""
        return [p for d in self.root.glob("*/data/uploads") for p in d.iterdir()]


def worker_argv(name: str, batch_jobs: int) -> list[str]:
    from app.core.cli import worker_argv as argv_of

    argv = argv_of(Settings(redis_url="redis://unused", batch_jobs=batch_jobs))
    return [a if a != "whisper@%h" else f"{name}@%h" for a in argv]


@pytest.fixture(scope="module")
def hosts(
    redis_server: EmbeddedRedis,
    models_dir: Path,
    s3: S3Server,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Hosts]:
    root = tmp_path_factory.mktemp("hosts")
    redis_url = redis_server.url.rsplit("/", 1)[0] + "/14"
    settings = {
        **s3.env(PREFIX),
        "WHISPER_JOBS_CPU_THREADS": "1",
        "WHISPER_JOBS_S3_TIMEOUT_SECONDS": "2",
        "WHISPER_JOBS_SPLIT_MIN_SECONDS": "50",
        "WHISPER_JOBS_SPLIT_PART_SECONDS": "30",
        "WHISPER_JOBS_JOB_LEASE_SECONDS": "6",
        "WHISPER_JOBS_SWEEP_INTERVAL_SECONDS": "2",
        "WHISPER_JOBS_ALLOWED_NETWORKS": "127.0.0.1/32",
    }
    port = free_port()
    cluster = Hosts(
        url=f"http://127.0.0.1:{port}",
        redis_url=redis_url,
        data_dir=root / "api" / "data",
        logs=root,
        http=httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30),
    )
    cluster.root = root
    cluster.env = {
        **os.environ,
        "WHISPER_JOBS_REDIS_URL": redis_url,
        "WHISPER_JOBS_MODEL_CACHE_DIR": str(models_dir),
        "WHISPER_JOBS_DEVICE": "cpu",
        "PORT": str(port),
        **settings,
    }
    cluster.procs = {}
    try:
        for name in (*WORKERS, "api", "beat"):
            cluster.start(name)
        cluster.wait_ready()
        yield cluster
    finally:
        cluster.stop_all()
        cluster.http.close()


def nothing_left(hosts: Hosts, s3: S3Server, timeout: float = 60) -> None:
    """Once the sweeps have run (every 2 s here): no object, no unfinished upload, no file."""
    deadline = time.monotonic() + timeout
    while True:
        left = (s3.keys(PREFIX), s3.unfinished_uploads(), hosts.data_files())
        if left == ([], 0, []):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"left behind: {left}\n{hosts.tail()}")
        time.sleep(0.2)


def ended(job: dict) -> bool:
    return job["status"] in {"completed", "failed", "canceled"}


def wav_header(seconds: float) -> bytes:
    """A 16 kHz mono 16-bit WAV header for `seconds` of samples."""
    data = int(seconds * 32_000)
    return (
        b"RIFF"
        + struct.pack("<I", 36 + data)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, 16_000, 32_000, 2, 16)
        + b"data"
        + struct.pack("<I", data)
    )


def test_an_upload_is_in_the_bucket_before_its_request_ends(hosts: Hosts, s3: S3Server) -> None:
    """Streamed, not spooled: parts of the upload reach the bucket while the client is still
    sending it (and the API writes no temporary file of it)."""
    seconds = 20 * 2**20 / 32_000  # 20 MiB of silence: three parts of 8 MiB
    seen_streaming = []

    def body() -> Iterator[bytes]:
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="q.wav"\r\n\r\n'
        yield wav_header(seconds)
        for i in range(20):
            yield bytes(2**20)
            if i == 17:  # two parts sent: the client waits until the bucket shows them
                deadline = time.monotonic() + 60
                while not seen_streaming and time.monotonic() < deadline:
                    if s3.unfinished_uploads() == 1:
                        seen_streaming.append(True)
                    time.sleep(0.05)
        yield b"\r\n--b--\r\n"

    response = hosts.http.post(
        "/v1/jobs",
        content=body(),
        headers={"Content-Type": "multipart/form-data; boundary=b"},
        timeout=120,
    )
    assert response.status_code == 202, response.text
    assert seen_streaming, "no multipart upload in the bucket while the body was being sent"
    assert hosts.wait_for(response.json()["id"], ended)["status"] == "completed"
    nothing_left(hosts, s3)


@pytest.mark.parametrize(
    ("content", "form", "status", "code"),
    [
        (b"not audio at all" * 1000, {}, 415, "unsupported_media"),
        (b"", {}, 400, "empty_file"),
        (None, {"temperature": "7"}, 422, "invalid_request"),
        ((DATA / "bomb.flac").read_bytes(), {}, 422, "audio_too_long"),  # declares 5 h
    ],
)
def test_a_refused_upload_leaves_nothing_in_the_bucket(
    hosts: Hosts, s3: S3Server, content: bytes | None, form: dict, status: int, code: str
) -> None:
    body = JFK.read_bytes() if content is None else content
    response = hosts.http.post("/v1/jobs", files={"file": ("x.flac", body)}, data=form)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    nothing_left(hosts, s3, timeout=10)


def test_a_client_gone_mid_upload_leaves_no_unfinished_upload(hosts: Hosts, s3: S3Server) -> None:
    head = b'--b\r\nContent-Disposition: form-data; name="file"; filename="q.wav"\r\n\r\n'
    with socket.create_connection(("127.0.0.1", int(hosts.url.rsplit(":", 1)[1]))) as sock:
        sock.sendall(
            b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: multipart/form-data; boundary=b\r\n"
            b"Content-Length: 100000000\r\n\r\n" + head + wav_header(3000)
        )
        for _ in range(12):  # 12 MiB: one part sent, the next one filling
            sock.sendall(bytes(2**20))
        deadline = time.monotonic() + 60
        while s3.unfinished_uploads() == 0:
            assert time.monotonic() < deadline, "the upload never started"
            time.sleep(0.05)
    nothing_left(hosts, s3)  # the hang-up aborts it


def test_a_replayed_submission_keeps_one_object(hosts: Hosts, s3: S3Server) -> None:
    key = {"Idempotency-Key": f"replay-{time.monotonic_ns()}"}
    first = hosts.http.post("/v1/jobs", files={"file": ("j.flac", JFK.read_bytes())}, headers=key)
    again = hosts.http.post("/v1/jobs", files={"file": ("j.flac", JFK.read_bytes())}, headers=key)
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json()["id"] == first.json()["id"]
    hosts.wait_for(first.json()["id"], ended)
    nothing_left(hosts, s3)


def test_an_upload_goes_through_the_bucket_and_leaves_nothing(
    hosts: Hosts, s3: S3Server, jfk_text: str
) -> None:
    submitted = hosts.submit(JFK)
    assert [k.rsplit("/", 1)[1] for k in s3.keys(PREFIX)] == [submitted["id"]]
    job = hosts.wait_for(submitted["id"], ended)
    assert job["status"] == "completed", job
    assert job["result"]["text"] == jfk_text  # faster-whisper's own words, in this run
    nothing_left(hosts, s3)


@pytest.fixture(scope="module")
def speech_minute(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """About a minute of English that never repeats (the first half of `tests/data/story.txt`
    read by espeak-ng), and what it says: long enough for two or three parts of 30 s."""
    words = (DATA / "story.txt").read_text().split()
    text = " ".join(words[: len(words) // 2])
    path = tmp_path_factory.mktemp("minute") / "story-half.wav"
    subprocess.run(["espeak-ng", "-s", "165", "-w", str(path), text], check=True)
    return path, text


def test_jobs_decoded_together_read_their_uploads_from_the_bucket(
    hosts: Hosts, s3: S3Server, jfk_text: str
) -> None:
    ids = [hosts.submit(JFK)["id"] for _ in range(5)]
    for job_id in ids:
        job = hosts.wait_for(job_id, ended)
        assert job["status"] == "completed" and job["result"]["text"] == jfk_text, job
    log = (hosts.logs / f"{BATCHING}.log").read_text()
    assert sum(f"job {job_id} completed" in log for job_id in ids) >= 1  # some ran batched
    nothing_left(hosts, s3)


def test_a_long_upload_is_split_across_the_workers_through_the_bucket(
    hosts: Hosts, s3: S3Server, speech_minute: tuple[Path, str], models_dir: Path
) -> None:
    audio, said = speech_minute
    job_id = hosts.submit(audio, temperature="0")["id"]
    job = hosts.wait_for(job_id, ended, 300)
    assert job["status"] == "completed", job
    logs = "".join((hosts.logs / f"{w}.log").read_text() for w in WORKERS)
    assert re.search(rf"job {job_id}: \d+ s cut into [2-9] parts", logs), logs  # it was cut
    # The bounds of tests/e2e/test_split.py: the parts read as the library's whole-file run.
    whole = reference(models_dir, "base", audio, temperature=[0.0])
    assert wer(whole.text, job["result"]["text"]) <= 0.08
    assert wer(said, job["result"]["text"]) <= 0.15
    nothing_left(hosts, s3)


def test_an_audio_url_job_leaves_no_working_copy(hosts: Hosts, s3: S3Server, jfk_text: str) -> None:
    class Audio(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = JFK.read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    with loopback_http_server(Audio) as url:
        response = hosts.http.post("/v1/jobs", data={"audio_url": f"{url}/jfk.flac"}, files={})
        assert response.status_code == 202, response.text
        job = hosts.wait_for(response.json()["id"], ended)
    assert job["status"] == "completed" and job["result"]["text"] == jfk_text, job
    nothing_left(hosts, s3)


def test_a_canceled_job_leaves_nothing(hosts: Hosts, s3: S3Server, long_speech: Path) -> None:
    job_id = hosts.submit(long_speech)["id"]
    hosts.wait_for(job_id, lambda j: j["status"] == "processing" and j["progress"] > 0)
    assert hosts.http.delete(f"/v1/jobs/{job_id}").status_code == 204  # a cancel, mid-run
    nothing_left(hosts, s3)


def test_a_sigkilled_workers_job_completes_once(
    hosts: Hosts, s3: S3Server, long_speech: Path
) -> None:
    job_id = hosts.submit(long_speech, temperature="0")["id"]
    hosts.wait_for(job_id, lambda j: j["status"] == "processing" and j["progress"] > 0)
    # Whichever worker holds it (or its parts) is killed outright, children and all.
    for name in WORKERS:
        kill_tree(hosts, name)
    for name in WORKERS:
        hosts.start(name)
    job = hosts.wait_for(job_id, ended, 300)
    assert job["status"] == "completed", job
    segments = job["result"]["segments"]
    assert [s["id"] for s in segments] == list(range(len(segments)))  # nothing appended twice
    nothing_left(hosts, s3)


def kill_tree(hosts: Hosts, name: str) -> None:
    """SIGKILL of the process and its children at once: no warm shutdown, no message handed
    back by the dying worker."""
    proc = hosts.procs.pop(name)
    children = psutil.Process(proc.pid).children(recursive=True)
    for p in [proc, *children]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(p.pid, signal.SIGKILL)
    proc.wait(30)
    psutil.wait_procs(children, timeout=30)


def test_a_frozen_store_refuses_submissions_and_creates_no_job(hosts: Hosts, s3: S3Server) -> None:
    before = hosts.http.get("/v1/jobs", params={"limit": 500}).json()["data"]
    with s3.frozen(), JFK.open("rb") as f:
        response = hosts.http.post("/v1/jobs", files={"file": (JFK.name, f)})
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "storage_unavailable"
    assert int(response.headers["Retry-After"]) > 0
    assert hosts.http.get("/v1/jobs", params={"limit": 500}).json()["data"] == before
    nothing_left(hosts, s3)


def test_a_store_away_while_a_worker_reads_delays_the_job_and_fails_nothing(
    hosts: Hosts, s3: S3Server, long_speech: Path, jfk_text: str
) -> None:
    # Every slot busy, so the next job is read from the bucket only while it is frozen.
    busy = [hosts.submit(long_speech)["id"] for _ in range(SLOTS)]
    for job_id in busy:
        hosts.wait_for(job_id, lambda j: j["status"] == "processing")
    waiting = hosts.submit(JFK)["id"]
    with s3.frozen():
        # A worker takes it while the store is away, and cannot read it.
        hosts.wait_for(waiting, lambda j: j["status"] == "processing", 300)
        said = f"job {waiting}: the upload store is unreachable"
        deadline = time.monotonic() + 120
        while not any(said in (hosts.logs / f"{w}.log").read_text() for w in WORKERS):
            assert time.monotonic() < deadline, hosts.tail()
            time.sleep(0.2)
        assert not ended(hosts.http.get(f"/v1/jobs/{waiting}").json())  # not failed
    job = hosts.wait_for(waiting, ended, 300)
    assert job["status"] == "completed" and job["result"]["text"] == jfk_text, job
    nothing_left(hosts, s3)


def test_an_upload_gone_from_the_bucket_fails_its_job_clearly(
    hosts: Hosts, s3: S3Server, long_speech: Path
) -> None:
    busy = [hosts.submit(long_speech)["id"] for _ in range(SLOTS)]
    for job_id in busy:
        hosts.wait_for(job_id, lambda j: j["status"] == "processing")
    waiting = hosts.submit(JFK)["id"]
    client = s3.client()
    client.delete_object(Bucket=s3.bucket, Key=f"{PREFIX}/uploads/{waiting}")
    client.close()
    job = hosts.wait_for(waiting, ended, 300)
    assert job["status"] == "failed" and job["error"]["code"] == "upload_missing", job
    for job_id in busy:
        hosts.wait_for(job_id, ended, 300)
    nothing_left(hosts, s3)


@pytest.mark.parametrize("fault", ["wrong secret", "no such bucket"])
def test_the_service_refuses_to_start_on_a_bucket_it_cannot_use(
    s3: S3Server, tmp_path: Path, fault: str
) -> None:
    env = {**os.environ, **s3.env(PREFIX), "WHISPER_JOBS_REDIS_URL": "redis://127.0.0.1:1/0"}
    if fault == "wrong secret":
        env["AWS_SECRET_ACCESS_KEY"] = "not-the-secret"
    else:
        env["WHISPER_JOBS_UPLOAD_STORE"] = "s3://no-such-bucket-here/x"
    env["WHISPER_JOBS_DATA_DIR"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "app.core.cli", "check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == CONFIGURATION_ERROR, done.stderr
    assert "WHISPER_JOBS_UPLOAD_STORE" in done.stderr
    assert s3.secret_key not in done.stderr
