"""Start the real service (embedded Valkey, Celery worker, uvicorn API) for benchmarks, and build
the benchmark audio. Everything on loopback; nothing here is used by the service itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import psutil

from app.core.embedded import EmbeddedRedis, free_port
from worker.decoding.audio import write_wav

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
JFK = DATA / "jfk.flac"


@dataclass
class Row:
    """One line of `make bench`'s table."""

    name: str
    value: str
    goal: str
    ok: bool | None  # None: informational


def long_speech(directory: Path, min_seconds: float = 190.0) -> Path:
    """Real speech, no silence added: the committed recordings concatenated until >= 3 min."""
    from faster_whisper import decode_audio

    clips = [decode_audio(str(p)) for p in (JFK, DATA / "de.wav", DATA / "fr.wav", JFK)]
    pieces, total = [], 0
    while total < min_seconds * 16_000:
        for clip in clips:
            pieces.append(clip)
            total += len(clip)
    return write_wav(directory / "long-speech.wav", np.concatenate(pieces))


@dataclass
class Service:
    directory: Path
    env_extra: dict[str, str] = field(default_factory=dict)
    redis: EmbeddedRedis | None = None
    api: subprocess.Popen[bytes] | None = None
    worker: subprocess.Popen[bytes] | None = None
    port: int = 0
    stop_grace: float = 120.0  # seconds a worker may take to stop before it is killed

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        assert self.redis is not None
        return {
            **os.environ,
            "WHISPER_JOBS_REDIS_URL": self.redis.url,
            "WHISPER_JOBS_DATA_DIR": str(self.directory / "data"),
            "WHISPER_JOBS_MODEL_CACHE_DIR": str(ROOT / "data" / "models"),
            "PORT": str(self.port),
            **self.env_extra,
        }

    def _spawn(self, command: str) -> subprocess.Popen[bytes]:
        with (self.directory / f"{command}.log").open("ab") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "app.core.cli", command],
                cwd=ROOT,
                env=self.env(),
                stdout=log,
                stderr=log,
            )

    def start(self, *, worker: bool = True) -> Service:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.redis = EmbeddedRedis(self.directory / "redis", persistent=False)
        self.redis.start()
        self.port = free_port()
        self.api = self._spawn("api")
        self.wait_http("/healthz")
        if worker:
            self.start_worker()
        return self

    def start_worker(self) -> None:
        self.worker = self._spawn("worker")
        self.wait_http("/readyz")

    def restart_api(self, env: dict[str, str]) -> None:
        assert self.api is not None
        self.api.terminate()
        self.api.wait(30)
        self.env_extra.update(env)
        self.api = self._spawn("api")
        self.wait_http("/healthz")

    def stop_worker(self) -> None:
        if self.worker is not None:
            self.worker.terminate()
            try:
                self.worker.wait(self.stop_grace)
            except subprocess.TimeoutExpired:  # a wedged worker must not hang the benchmark
                self.worker.kill()
                self.worker.wait(30)
            self.worker = None

    def wait_http(self, path: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + path, timeout=5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{path} not ready; see logs in {self.directory}")

    def stop(self) -> None:
        self.stop_worker()
        if self.api is not None:
            self.api.terminate()
            self.api.wait(30)
        if self.redis is not None:
            self.redis.stop()


def run_job(client: httpx.Client, audio: Path, **form: str) -> tuple[float, dict]:
    """Submit, then follow the job's event stream until its final event: (seconds, final job)."""
    started = time.perf_counter()
    with audio.open("rb") as f:
        response = client.post("/v1/jobs", files={"file": (audio.name, f)}, data=form)
    response.raise_for_status()
    job_id = response.json()["id"]
    with client.stream("GET", f"/v1/jobs/{job_id}/events", timeout=None) as events:
        kind = ""
        for line in events.iter_lines():
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: ") and kind in {"completed", "failed", "canceled"}:
                elapsed = time.perf_counter() - started
                job = json.loads(line[6:])["job"]
                assert job["status"] == "completed", job
                return elapsed, job
    raise RuntimeError(f"event stream of {job_id} ended without a final event")


@dataclass
class PeakRss:
    pid: int
    peak: int = 0
    _stop: bool = False

    def __post_init__(self) -> None:
        self.process = psutil.Process(self.pid)
        self.baseline = self.process.memory_info().rss
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()

    def _sample(self) -> None:
        while not self._stop:
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.02)

    def growth(self) -> int:
        self._stop = True
        self.thread.join()
        return self.peak - self.baseline
