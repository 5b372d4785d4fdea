"""The whole service on real parts: the embedded Valkey, a real Celery worker process running the
real model, and the API served by uvicorn over real HTTP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import numpy as np
import psutil
import pytest

from app.core.embedded import EmbeddedRedis, free_port
from tests.conftest import JFK
from tests.transcripts import reference

ROOT = Path(__file__).resolve().parents[2]
TERMINAL = {"completed", "failed", "canceled"}
#: Options for `long_speech` (one sentence four times) where a test checks its words: greedy
#: and each window on its own, so a run gives the same words however often it is interrupted.
#: Checked against faster-whisper's own text on the same machine (`long_speech_text`), not
#: against what was said: on some CPUs Whisper repeats this sentence whatever the options
#: (seen with CTranslate2's kernels on an Intel Xeon: WER 170 % unconditioned, 370 % not).
NO_LOOPS = {"temperature": "0", "condition_on_previous_text": "false"}


def uploads_left(data_dir: Path, job_id: str | None = None, timeout: float = 30) -> list[Path]:
    """The uploads still on disk (only `job_id`'s, if given), once they are gone or `timeout` has
    passed: a worker removes a job's upload just after it writes the job's end, so a client can
    see the end a moment before the file goes."""
    deadline = time.monotonic() + timeout
    while True:
        left = [p for p in (data_dir / "uploads").iterdir() if job_id in (None, p.name)]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


@dataclass
class Service:
    url: str
    redis_url: str
    data_dir: Path
    logs: Path
    http: httpx.Client

    def submit(self, path: Path, **form: str) -> dict:
        with path.open("rb") as f:
            response = self.http.post("/v1/jobs", files={"file": (path.name, f)}, data=form)
        assert response.status_code == 202, response.text
        return response.json()

    def wait(self, job_id: str, until: set[str] = TERMINAL, timeout: float = 180) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.http.get(f"/v1/jobs/{job_id}").json()
            if job["status"] in until:
                return job
            time.sleep(0.1)
        raise AssertionError(f"job {job_id} still {job['status']} after {timeout}s\n{self.tail()}")

    def tail(self) -> str:
        return "\n".join(p.read_text()[-3000:] for p in sorted(self.logs.glob("*.log")))


def end_tree(proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    """SIGTERM, up to `timeout` for a warm shutdown (a busy machine may still be finishing a
    job), then SIGKILL of the process and every child it left: a teardown never fails on a slow
    shutdown, and never leaves a process behind for the next test."""
    children = psutil.Process(proc.pid).children(recursive=True) if proc.poll() is None else []
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    for child in children:
        try:
            child.kill()
            child.wait(10)
        except psutil.NoSuchProcess:
            pass


def _start(name: str, env: dict[str, str], logs: Path) -> subprocess.Popen[bytes]:
    with (logs / f"{name}.log").open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "app.core.cli", name], cwd=ROOT, env=env, stdout=out, stderr=out
        )


@pytest.fixture(scope="session")
def service(
    redis_server: EmbeddedRedis, models_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    data_dir = tmp_path_factory.mktemp("service-data")
    logs = tmp_path_factory.mktemp("service-logs")
    port = free_port()
    # Database 1: the unit tests flush database 0 between tests; the queue must not vanish.
    redis_url = redis_server.url.rsplit("/", 1)[0] + "/1"
    env = {
        **os.environ,
        "WHISPER_JOBS_REDIS_URL": redis_url,
        "WHISPER_JOBS_DATA_DIR": str(data_dir),
        "WHISPER_JOBS_MODEL_CACHE_DIR": str(models_dir),
        "WHISPER_JOBS_DEVICE": "cpu",
        # One job per process, as these tests were written for (they kill a pool's child, say);
        # the layout a worker picks for itself is tested in tests/e2e/test_worker_layout.py.
        "WHISPER_JOBS_WORKER_CONCURRENCY": "1",
        "PORT": str(port),
    }
    procs = [_start("worker", env, logs), _start("api", env, logs)]
    url = f"http://127.0.0.1:{port}"
    http = httpx.Client(base_url=url, timeout=30)
    svc = Service(url, redis_url, data_dir, logs, http)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if http.get("/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                raise RuntimeError(f"service did not become ready:\n{svc.tail()}")
            time.sleep(0.2)
        yield svc
    finally:
        http.close()
        for proc in reversed(procs):
            end_tree(proc)


@pytest.fixture(scope="session")
def long_speech(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """44 s of real speech (JFK four times) as 16 kHz WAV: several segments, time to cancel."""
    from faster_whisper import decode_audio

    samples = np.tile(decode_audio(str(JFK)), 4)
    path = tmp_path_factory.mktemp("audio") / "jfk-x4.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16_000)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path


@pytest.fixture(scope="session")
def long_speech_text(models_dir: Path, long_speech: Path) -> str:
    """faster-whisper's own text for `long_speech` with `NO_LOOPS`, on this machine: what a job
    with those options must give, however often it was interrupted and run again."""
    options = {"temperature": [0.0], "condition_on_previous_text": False}
    return reference(models_dir, "base", long_speech, **options).text


@pytest.fixture(scope="session")
def jfk_text(models_dir: Path) -> str:
    """faster-whisper's own text for JFK with `base` at its default options (the service's
    defaults too), on this machine: what a default job must give."""
    return reference(models_dir, "base", JFK).text


@pytest.fixture(scope="session")
def jfk_greedy_text(models_dir: Path) -> str:
    """The same at temperature 0 only."""
    return reference(models_dir, "base", JFK, temperature=[0.0]).text


@contextmanager
def loopback_http_server(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 (a free port) for the duration of the block: its URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class Cluster(Service):
    """A service whose processes the test may kill and restart."""

    env: dict[str, str]
    procs: dict[str, subprocess.Popen[bytes]]

    def start(self, name: str) -> None:
        self.procs[name] = _start(name, self.env, self.logs)

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.http.get("/readyz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"not ready\n{self.tail()}")

    def worker_child(self) -> psutil.Process:
        children = psutil.Process(self.procs["worker"].pid).children()
        assert len(children) == 1, children
        return children[0]

    def stop(self, name: str, sig: int = signal.SIGTERM, timeout: float = 120) -> None:
        proc = self.procs.pop(name)
        proc.send_signal(sig)
        proc.wait(timeout)

    def stop_all(self) -> None:
        for name in list(self.procs)[::-1]:
            end_tree(self.procs.pop(name))

    def wait_for(self, job_id: str, predicate, timeout: float = 120) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.http.get(f"/v1/jobs/{job_id}").json()
            if predicate(job):
                return job
            time.sleep(0.05)
        raise AssertionError(f"job {job_id}: condition not met: {job}\n{self.tail()}")


def make_cluster(redis_url: str, root: Path, models_dir: Path, **env: str) -> Cluster:
    port = free_port()
    cluster = Cluster(
        url=f"http://127.0.0.1:{port}",
        redis_url=redis_url,
        data_dir=root / "data",
        logs=root,
        http=httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30),
    )
    cluster.env = {
        **os.environ,
        "WHISPER_JOBS_REDIS_URL": redis_url,
        "WHISPER_JOBS_DATA_DIR": str(root / "data"),
        "WHISPER_JOBS_MODEL_CACHE_DIR": str(models_dir),
        "WHISPER_JOBS_DEVICE": "cpu",
        "WHISPER_JOBS_WORKER_CONCURRENCY": "1",  # as in `service`, unless a test says otherwise
        "PORT": str(port),
        **env,
    }
    cluster.procs = {}
    try:
        for name in ("worker", "api"):
            cluster.start(name)
        cluster.wait_ready()
    except BaseException:  # a cluster that never got ready leaves no process behind
        cluster.stop_all()
        cluster.http.close()
        raise
    return cluster


@contextmanager
def cluster_on_db(
    redis_server: EmbeddedRedis, db: int, root: Path, models_dir: Path, **env: str
) -> Iterator[Cluster]:
    """A module's own cluster on its own database of the session's Valkey, stopped afterwards."""
    cluster = make_cluster(redis_server.url.rsplit("/", 1)[0] + f"/{db}", root, models_dir, **env)
    try:
        yield cluster
    finally:
        cluster.stop_all()
        cluster.http.close()
