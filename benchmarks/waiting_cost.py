"""What clients waiting on their jobs cost the jobs: 24 short clips given at once to a service
with no setting, three times each way, interleaved, on the same service:

- nobody waits on a job: one reader of the job list every 2 s (how the bench knows they ended);
- each of 24 clients waits on its own job with long polls (`GET /v1/jobs/{id}?wait=60`, what
  the client and CLI do), from its submission to its end.

Jobs per minute, from the first job's creation to the last one's completion as the store
records them (so how soon a waiter hears of the end does not count), both ways; the cost is how
much lower the waited-on runs' median is. Loopback only; every loop bounded in count and time.
`python -m benchmarks.waiting_cost [--clips 24]`
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from benchmarks.cross_job import make_clips
from benchmarks.harness import Row, Service

ENDED = ("completed", "failed", "canceled")
LIST_EVERY = 2.0
LIMIT_SECONDS = 900  # any one round


def _submit(client: httpx.Client, clip: Path) -> str:
    with clip.open("rb") as f:
        answer = client.post("/v1/jobs", files={"file": (clip.name, f)})
    answer.raise_for_status()
    return str(answer.json()["id"])


def _span(url: str, ids: set[str]) -> float:
    """Seconds from the first job's creation to the last one's completion, as stored."""
    with httpx.Client(base_url=url, timeout=60) as client:
        jobs = [client.get(f"/v1/jobs/{i}").json() for i in ids]
    created = min(datetime.fromisoformat(j["created_at"]) for j in jobs)
    completed = max(datetime.fromisoformat(j["completed_at"]) for j in jobs)
    return (completed - created).total_seconds()


def _nobody_waits(url: str, clips: list[Path]) -> float:
    with httpx.Client(base_url=url, timeout=60) as client:
        started = time.perf_counter()
        ids = {_submit(client, clip) for clip in clips}
        ended: set[str] = set()
        while ended != ids and time.perf_counter() - started < LIMIT_SECONDS:
            time.sleep(LIST_EVERY)
            for job in client.get("/v1/jobs", params={"limit": 100}).json()["data"]:
                if job["id"] in ids and job["status"] in ENDED:
                    ended.add(job["id"])
        assert ended == ids, "jobs did not end in time"
    return _span(url, ids)


def _each_waits(url: str, clips: list[Path]) -> float:
    started = time.perf_counter()
    ended: set[str] = set()

    def wait_on(clip: Path) -> None:
        with httpx.Client(base_url=url, timeout=90) as client:
            job_id = _submit(client, clip)
            while time.perf_counter() - started < LIMIT_SECONDS:
                job = client.get(f"/v1/jobs/{job_id}", params={"wait": 60}).json()
                if job["status"] in ENDED:
                    ended.add(job_id)
                    return

    threads = [threading.Thread(target=wait_on, args=(clip,)) for clip in clips]
    for t in threads:
        t.start()
    for t in threads:
        t.join(LIMIT_SECONDS + 120)
    assert len(ended) == len(clips), "jobs did not end in time"
    return _span(url, ended)


def measure(work: Path, count: int, rounds: int = 3) -> dict[str, Any]:
    clips = make_clips(work, count)
    env = {"WHISPER_JOBS_MAX_ACTIVE_JOBS_PER_KEY": "1000", "WHISPER_JOBS_MAX_STREAMS_PER_KEY": "64"}
    svc = Service(work / "svc", env).start()
    times: dict[str, list[float]] = {"nobody": [], "each": []}
    try:
        _nobody_waits(svc.url, clips[:2])  # warm: the model loaded in every replica
        for _ in range(rounds):
            times["nobody"].append(_nobody_waits(svc.url, clips))
            times["each"].append(_each_waits(svc.url, clips))
    finally:
        svc.stop()
    nobody, each = statistics.median(times["nobody"]), statistics.median(times["each"])
    return {
        "clips": count,
        "nobody_jobs_per_min": round(60 * count / nobody, 2),
        "each_jobs_per_min": round(60 * count / each, 2),
        "cost": round(1 - nobody / each, 4),
        "runs": {k: [round(v, 2) for v in vs] for k, vs in times.items()},
    }


def rows(r: dict[str, Any]) -> list[Row]:
    return [
        Row(
            f"{r['clips']} clients each long-polling its job: jobs/min {r['each_jobs_per_min']} "
            f"against {r['nobody_jobs_per_min']} with nobody waiting (medians; runs {r['runs']})",
            f"{100 * r['cost']:+.1f} %",
            "≤ 3 % lower",
            r["cost"] <= 0.03,
        )
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clips", type=int, default=24)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="whisper-jobs-waiting-") as tmp:
        json.dump(measure(Path(tmp), args.clips), sys.stdout)
        print()


if __name__ == "__main__":
    main()
