"""What waiting for a job costs the API: CPU seconds of one API process while 24 clients wait
on 24 queued jobs (no worker runs, so none ends), three ways, each for the same time:
polling `GET /v1/jobs/{id}` every 50 ms, polling every 0.5 s, and holding long polls
(`?wait=`), beside the idle process. Loopback only; every loop bounded in time.

`python -m benchmarks.long_poll [--seconds 20]`
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psutil

from app.core.embedded import EmbeddedRedis, free_port
from benchmarks.harness import JFK, ROOT

CLIENTS = 24


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def _clients(url: str, ids: list[str], seconds: float, interval: float | None) -> int:
    """Each client waits on its job for `seconds`: polls every `interval`, or long-polls
    (`interval` None). The number of requests made."""
    counts = [0] * len(ids)
    stop_at = time.monotonic() + seconds

    def wait_on(i: int) -> None:
        with httpx.Client(base_url=url, timeout=90) as http:
            while (left := stop_at - time.monotonic()) > 0.05:
                params = {} if interval is not None else {"wait": f"{min(left, 60):.2f}"}
                http.get(f"/v1/jobs/{ids[i]}", params=params).raise_for_status()
                counts[i] += 1
                if interval is not None:
                    time.sleep(interval)

    threads = [threading.Thread(target=wait_on, args=(i,)) for i in range(len(ids))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 120)
    return sum(counts)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20.0)
    seconds = parser.parse_args().seconds
    with tempfile.TemporaryDirectory() as tmp:
        redis = EmbeddedRedis(Path(tmp) / "redis", persistent=False)
        redis.start()
        port = free_port()
        env = {
            **os.environ,
            "WHISPER_JOBS_REDIS_URL": redis.url,
            "PORT": str(port),
            "WHISPER_JOBS_DATA_DIR": str(Path(tmp) / "data"),
            "WHISPER_JOBS_LOG_LEVEL": "WARNING",
            "WHISPER_JOBS_MAX_STREAMS_PER_KEY": str(CLIENTS),
        }
        api = subprocess.Popen([sys.executable, "-m", "app.core.cli", "api"], cwd=ROOT, env=env)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    httpx.get(f"{url}/healthz").raise_for_status()
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, "the API did not start"
                    time.sleep(0.1)
            with httpx.Client(base_url=url, timeout=30) as http:
                audio = JFK.read_bytes()
                ids = [
                    http.post("/v1/jobs", files={"file": ("jfk.flac", audio)}).json()["id"]
                    for _ in range(CLIENTS)
                ]
            process = psutil.Process(api.pid)
            print(f"{CLIENTS} clients waiting {seconds:g} s each on a queued job; API CPU seconds")
            print("| how they wait | requests | API CPU s | CPU ms per request |")
            print("|---|---|---|---|")
            before = _cpu(process)
            time.sleep(seconds)
            print(f"| nobody waits (idle) | 0 | {_cpu(process) - before:.2f} | — |")
            for name, interval in (
                ("GET every 50 ms", 0.05),
                ("GET every 0.5 s", 0.5),
                ("long poll (?wait=)", None),
            ):
                before = _cpu(process)
                requests = _clients(url, ids, seconds, interval)
                used = _cpu(process) - before
                print(f"| {name} | {requests} | {used:.2f} | {1000 * used / requests:.2f} |")
        finally:
            api.terminate()
            api.wait(30)
            redis.stop()


if __name__ == "__main__":
    main()
