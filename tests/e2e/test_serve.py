"""`whisper-jobs serve`: one command starts the embedded Valkey, a worker and the API, and SIGTERM
stops all of them."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from app.core.embedded import free_port
from tests.conftest import JFK
from tests.e2e.conftest import ROOT


def test_serve_starts_everything_and_stops_cleanly(
    tmp_path: Path, models_dir: Path, jfk_text: str
) -> None:
    port, redis_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k != "WHISPER_JOBS_REDIS_URL"}
    env.update(
        PORT=str(port),
        WHISPER_JOBS_DATA_DIR=str(tmp_path / "data"),
        WHISPER_JOBS_MODEL_CACHE_DIR=str(models_dir),
        WHISPER_JOBS_EMBEDDED_REDIS_PORT=str(redis_port),
        WHISPER_JOBS_LOG_FORMAT="json",
    )
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        serve = subprocess.Popen(
            [sys.executable, "-m", "app.core.cli", "serve"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=out,
        )
    try:
        deadline = time.monotonic() + 90
        status = None
        while status != 200:
            assert serve.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            try:
                status = httpx.get(f"http://127.0.0.1:{port}/readyz").status_code
            except httpx.TransportError:
                time.sleep(0.2)
        assert (tmp_path / "data" / "redis" / "appendonlydir").is_dir()  # persistence is on
        index = httpx.get(f"http://127.0.0.1:{port}/").json()
        assert index["docs"] == "/docs" and index["keys_required"] is False
        deadline = time.monotonic() + 10
        while "whisper-jobs is ready" not in log.read_text():
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        # No layout setting given: the worker chose one for the cores it found, and says so.
        (layout,) = httpx.get(f"http://127.0.0.1:{port}/readyz").json()["workers"].values()
        assert "jobs decoded together" in layout, layout
        with JFK.open("rb") as f:
            job = httpx.post(f"http://127.0.0.1:{port}/v1/jobs", files={"file": f}).json()
        deadline = time.monotonic() + 120
        while job["status"] not in ("completed", "failed"):
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
            job = httpx.get(f"http://127.0.0.1:{port}/v1/jobs/{job['id']}").json()
        assert job["status"] == "completed" and job["result"]["text"] == jfk_text, job
    finally:
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(90) == 0, log.read_text()
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]  # all JSON
    messages = [line["message"] for line in lines]
    assert any(m.startswith("model base ready at ") for m in messages)
    assert any(m.startswith("worker layout: ") and "usable CPU core" in m for m in messages)
    (ready,) = [m for m in messages if m.startswith("whisper-jobs is ready")]
    # A few lines of what started where, then the ready line: no banners, no probe lines (this
    # test's own `GET /` may come before the ready line: not counted).
    before = [m for m in messages[: messages.index(ready)] if '"GET / HTTP' not in m]
    assert len(before) <= 15, "\n".join(before)
    assert not any("/readyz" in m or "/healthz" in m for m in messages)
    assert f"API http://127.0.0.1:{port}" in ready and "OPEN (no keys)" in ready
    assert any("Warm shutdown" in m for m in messages)  # Celery's signal-handler line, as JSON
    for p in (port, redis_port):  # API and Valkey are gone, not orphaned
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", p)) != 0
