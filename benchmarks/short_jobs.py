"""Where the time of many short jobs goes: 24 clips of 3–25 s of real speech (cut from the
committed recordings), a plain loop of `WhisperModel.transcribe` against the service given all
24 at once, each side with `base`, int8, 2 threads, beam 5, temperature 0.

The client watches the jobs two ways, in two runs: polling every job every 50 ms (`--poll
each`: every pending job's GET back to back, then a pause) or reading the job list every 0.5 s
(`--poll list`).
Prints one JSON object: both totals, their ratio, the sum of the jobs' own processing times
(started_at to completed_at) and the gaps between one job's end and the next one's start.
Not part of `make bench` (it takes minutes); run `python -m benchmarks.short_jobs --poll each`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from benchmarks.cross_job import LENGTHS, make_clips
from benchmarks.harness import ROOT, Service
from worker.decoding.model_loading import construct_apart

CLIPS = 24
OPTIONS = {"temperature": "0", "batched": "false"}


def direct_loop(clips: list[Path], threads: int) -> float:
    from faster_whisper import WhisperModel

    from worker.decoding.weights import resolve_model

    path = resolve_model("base", ROOT / "data" / "models")
    model = construct_apart(  # as the worker does: worker/decoding/model_loading.py
        lambda: WhisperModel(path, device="cpu", compute_type="int8", cpu_threads=threads)
    )
    list(model.transcribe(str(clips[0]), beam_size=5, temperature=0.0)[0])  # warm, as the worker
    started = time.perf_counter()
    for clip in clips:
        list(model.transcribe(str(clip), beam_size=5, temperature=0.0)[0])
    return time.perf_counter() - started


def through_service(
    clips: list[Path], threads: int, poll: str, work: Path
) -> tuple[float, list[Any]]:
    svc = Service(work / "svc", {"WHISPER_JOBS_CPU_THREADS": str(threads)}).start()
    try:
        with httpx.Client(base_url=svc.url, timeout=60) as client:

            def submit(path: Path) -> str:
                with path.open("rb") as f:
                    answer = client.post("/v1/jobs", files={"file": (path.name, f)}, data=OPTIONS)
                return str(answer.json()["id"])

            warm = submit(clips[0])
            while client.get(f"/v1/jobs/{warm}").json()["status"] != "completed":
                time.sleep(0.05)
            started = time.perf_counter()
            pending = {submit(clip) for clip in clips}
            ended: dict[str, Any] = {}
            while pending:
                if poll == "each":
                    seen = [client.get(f"/v1/jobs/{i}").json() for i in list(pending)]
                else:
                    seen = client.get("/v1/jobs", params={"limit": 50}).json()["data"]
                for job in seen:
                    if job["id"] in pending and job["status"] in ("completed", "failed"):
                        ended[job["id"]] = job
                        pending.discard(job["id"])
                time.sleep(0.05 if poll == "each" else 0.5)
            return time.perf_counter() - started, list(ended.values())
    finally:
        svc.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--poll", choices=["each", "list"], default="each")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="whisper-jobs-short-") as tmp:
        work = Path(tmp)
        clips = make_clips(work, CLIPS)
        direct = direct_loop(clips, args.threads)
        service, jobs = through_service(clips, args.threads, args.poll, work)

    def ts(value: str) -> float:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()

    jobs.sort(key=lambda j: ts(j["started_at"]))
    gaps = [ts(b["started_at"]) - ts(a["completed_at"]) for a, b in zip(jobs, jobs[1:])]  # noqa: B905
    processing = sum(ts(j["completed_at"]) - ts(j["started_at"]) for j in jobs)
    report = {
        "poll": args.poll,
        "clips": CLIPS,
        "audio_s": sum(LENGTHS[i % len(LENGTHS)] for i in range(CLIPS)),
        "direct_s": round(direct, 2),
        "service_s": round(service, 2),
        "ratio": round(service / direct, 3),
        "jobs_processing_sum_s": round(processing, 2),
        "gap_median_ms": round(statistics.median(gaps) * 1000, 1),
        "gap_sum_s": round(sum(gaps), 2),
        "statuses": sorted({j["status"] for j in jobs}),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
