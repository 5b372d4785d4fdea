"""Nothing lost: real worker processes killed and stopped mid-job, Redis restarted, a flood of
submissions, and an oversize body over a real socket. Every job ends exactly once."""

from __future__ import annotations

import signal
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil
import pytest

from app.core.embedded import EmbeddedRedis
from tests.conftest import DATA, JFK, JFK_TEXT
from tests.e2e.conftest import NO_LOOPS, Cluster, cluster_on_db, make_cluster, uploads_left
from tests.transcripts import wer


@pytest.fixture(scope="module")
def cluster(
    redis_server: EmbeddedRedis, models_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    with cluster_on_db(
        redis_server,
        2,
        tmp_path_factory.mktemp("faults"),
        models_dir,
        WHISPER_JOBS_MAX_UPLOAD_BYTES=str(4 * 1024 * 1024),
        WHISPER_JOBS_MAX_ACTIVE_JOBS_PER_KEY="1000",
        WHISPER_JOBS_MAX_AUDIO_SECONDS="600",
    ) as c:
        yield c


def processing_with_progress(job: dict) -> bool:
    assert job["status"] in {"queued", "processing"}, job
    return job["status"] == "processing" and job["progress"] > 0


def assert_completed_once(job: dict, library_text: str) -> None:
    """Completed, nothing appended twice, and faster-whisper's words for the same options."""
    assert job["status"] == "completed", job
    segments = job["result"]["segments"]
    assert [s["id"] for s in segments] == list(range(len(segments)))  # nothing appended twice
    starts = [s["start"] for s in segments]
    assert starts == sorted(starts)
    assert wer(library_text, job["result"]["text"]) <= 0.05


def test_sigkill_of_the_worker_child_mid_job(
    cluster: Cluster, long_speech: Path, long_speech_text: str
) -> None:
    job_id = cluster.submit(long_speech, **NO_LOOPS)["id"]
    cluster.wait_for(job_id, processing_with_progress)
    cluster.worker_child().send_signal(signal.SIGKILL)
    job = cluster.wait_for(job_id, lambda j: j["status"] not in {"queued", "processing"}, 240)
    assert_completed_once(job, long_speech_text)
    assert job["attempts"] == 2
    assert uploads_left(cluster.data_dir, job_id) == []


def test_poison_job_fails_with_worker_lost_and_others_flow(cluster: Cluster, long_speech: Path):
    poison = cluster.submit(long_speech)["id"]
    for attempt in (1, 2, 3):  # a file that kills its worker every time
        cluster.wait_for(
            poison, lambda j, a=attempt: j["attempts"] == a and processing_with_progress(j), 240
        )
        cluster.worker_child().send_signal(signal.SIGKILL)
    job = cluster.wait_for(poison, lambda j: j["status"] == "failed", 120)
    assert job["error"]["code"] == "worker_lost"
    assert job["attempts"] == 4
    other = cluster.wait_for(cluster.submit(JFK)["id"], lambda j: j["status"] == "completed")
    assert wer(JFK_TEXT, other["result"]["text"]) <= 0.1


def test_200_concurrent_submissions_all_end_once(cluster: Cluster) -> None:
    body = (DATA / "silence.wav").read_bytes()

    def submit(_: int) -> str:
        with httpx.Client(base_url=cluster.url, timeout=60) as client:
            response = client.post("/v1/jobs", files={"file": ("s.wav", body)})
            assert response.status_code == 202, response.text
            return str(response.json()["id"])

    with ThreadPoolExecutor(16) as pool:
        ids = list(pool.map(submit, range(200)))
    assert len(set(ids)) == 200
    for job_id in ids:
        job = cluster.wait_for(job_id, lambda j: j["status"] == "completed", 180)
        assert job["attempts"] == 1 and job["result"]["segments"] == []


def test_chunked_oversize_body_is_refused_before_it_is_all_sent(cluster: Cluster) -> None:
    host, port = cluster.url.removeprefix("http://").split(":")
    head = (
        b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        b"Content-Type: multipart/form-data; boundary=zz\r\n\r\n"
    )
    part = b'--zz\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n'
    chunk = b"\0" * 65536
    sent, total = 0, 40 * len(chunk)  # 2.5 MiB ... x4 = 10 MiB > the 4 MiB cap
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(head + b"%x\r\n%s\r\n" % (len(part), part))
        sock.settimeout(0.05)
        response = b""
        while sent < 4 * total and not response:
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
                response = sock.recv(4096)
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
        sock.settimeout(5)
        while b"}}" not in response:  # the JSON body may come in a later packet
            more = sock.recv(4096)
            if not more:
                break
            response += more
    assert response.startswith(b"HTTP/1.1 413"), response[:200]
    assert b"payload_too_large" in response
    assert sent < 4 * total
    assert list((cluster.data_dir / "uploads").iterdir()) == []


def test_sigterm_lets_the_running_job_finish(
    cluster: Cluster, long_speech: Path, long_speech_text: str
) -> None:
    job_id = cluster.submit(long_speech, **NO_LOOPS)["id"]
    cluster.wait_for(job_id, processing_with_progress)
    cluster.stop("worker", signal.SIGTERM, timeout=240)  # warm shutdown waits for the job
    job = cluster.http.get(f"/v1/jobs/{job_id}").json()
    assert_completed_once(job, long_speech_text)
    cluster.start("worker")
    cluster.wait_ready()


def test_redis_restart_with_jobs_in_every_state(
    models_dir: Path, tmp_path_factory: pytest.TempPathFactory, long_speech: Path
) -> None:
    """Valkey (append-only file on) stops and starts again: every job still reaches its end."""
    root = tmp_path_factory.mktemp("restart")
    server = EmbeddedRedis(root / "valkey", persistent=True)
    server.start()
    cluster = make_cluster(
        server.url,
        root,
        models_dir,
        WHISPER_JOBS_JOB_LEASE_SECONDS="6",
        WHISPER_JOBS_SWEEP_INTERVAL_SECONDS="5",
    )
    cluster.start("beat")
    try:
        done = cluster.submit(JFK)["id"]
        completed = cluster.wait_for(done, lambda j: j["status"] == "completed")
        running = cluster.submit(long_speech)["id"]
        cluster.wait_for(running, processing_with_progress)
        waiting = cluster.submit(JFK)["id"]
        server.stop()  # SIGTERM: Valkey writes its append-only file and exits
        time.sleep(1)
        server.start()
        for job_id in (running, waiting):
            job = cluster.wait_for(
                job_id, lambda j: j["status"] not in {"queued", "processing"}, 300
            )
            assert job["status"] == "completed", job
        assert cluster.http.get(f"/v1/jobs/{done}").json() == completed  # intact
    finally:
        cluster.stop_all()
        cluster.http.close()
        server.stop()


def hide_duration(flac: bytes) -> bytes:
    """Zero STREAMINFO's total-samples field: the container no longer declares its length."""
    data = bytearray(flac)
    assert data[:4] == b"fLaC"
    start = 8 + 10  # after "fLaC", the block header and the block/frame size fields
    bits = int.from_bytes(data[start : start + 8], "big") & ~((1 << 36) - 1)
    data[start : start + 8] = bits.to_bytes(8, "big")
    return bytes(data)


def test_duration_bombs_are_stopped_and_the_api_stays_flat(
    cluster: Cluster, tmp_path: Path
) -> None:
    api = psutil.Process(cluster.procs["api"].pid)
    before = api.memory_info().rss
    bomb = DATA / "bomb.flac"  # 455 KB that decode to 5 hours
    with bomb.open("rb") as f:
        declared = cluster.http.post("/v1/jobs", files={"file": (bomb.name, f)})
    assert declared.status_code == 422
    assert declared.json()["error"]["code"] == "audio_too_long"
    hidden = tmp_path / "hidden.flac"
    hidden.write_bytes(hide_duration(bomb.read_bytes()))
    job = cluster.wait_for(cluster.submit(hidden)["id"], lambda j: j["status"] == "failed", 180)
    assert job["error"]["code"] == "audio_too_long"  # stopped while decoding, past 600 s
    assert uploads_left(cluster.data_dir) == []
    assert api.memory_info().rss - before < 64 * 2**20
    assert cluster.wait_for(cluster.submit(JFK)["id"], lambda j: j["status"] == "completed")
