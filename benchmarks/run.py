"""`make bench`: the service beside raw faster-whisper, ratios measured side by side in one run.

Prints a Markdown table (pasted into BENCHMARKS.md) and exits 1 when a goal is missed.
Loopback only. Options: --quick (fewer repetitions, shorter load test) for a smoke run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np

from benchmarks import (
    cross_job,
    live_and_cancel,
    long_split,
    model_memory,
    object_store,
    waiting_cost,
)
from benchmarks.harness import JFK, ROOT, PeakRss, Row, Service, long_speech, run_job
from benchmarks.loadgen import (
    LoadResult,
    build_request,
    multipart_file,
    run_load,
    run_open_loop,
)
from tests.transcripts import wer
from worker.decoding.audio import write_wav


class Direct:
    """The baseline process (benchmarks/direct.py), driven over its stdin."""

    def __init__(self, threads: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.direct", str(threads)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None and self.process.stdout.readline() == "ready\n"

    def __call__(self, path: Path, batched: bool = False) -> float:
        return self.run(path, batched)[0]

    def run(self, path: Path, batched: bool = False) -> tuple[float, str]:
        """(seconds, text) of one `transcribe` call in the baseline process."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(f"{'batched ' if batched else ''}{path}\n")
        self.process.stdin.flush()
        answer = json.loads(self.process.stdout.readline())
        return float(answer["seconds"]), str(answer["text"])

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(30)


def bench_overhead_and_batching(
    svc: Service, long_path: Path, runs: int, threads: int
) -> list[Row]:
    rows: list[Row] = []
    with httpx.Client(base_url=svc.url, timeout=600) as client:
        cold, _ = run_job(client, JFK, batched="false")
        warm, _ = run_job(client, JFK, batched="false")
        rows.append(
            Row(
                "first job after worker start (JFK; the model preloaded as the worker starts)",
                f"{cold:.2f} s",
                "info",
                None,
            )
        )
        rows.append(Row("second job (JFK, model kept warm)", f"{warm:.2f} s", "info", None))
        direct = Direct(threads)
        direct(JFK)  # one warm-up call, as the worker has had
        sequential = 0.0
        library_runs: list[float] = []
        service_runs: list[float] = []
        # The long file as often as the short one (each round: the library and the service,
        # sequential then batched, interleaved), so one slow run on this shared machine does
        # not decide a ratio.
        for label, path in (("JFK 11 s", JFK), ("speech 3+ min", long_path)):
            d, s, errors = [], [], []
            for _ in range(runs):  # interleaved, so drift on a shared machine hits both sides
                seconds, library_text = direct.run(path)
                d.append(seconds)
                seconds, job = run_job(client, path, batched="false", temperature="0")
                s.append(seconds)
                text = client.get(f"/v1/jobs/{job['id']}").json()["result"]["text"]
                errors.append(wer(library_text, text))
                if path == long_path:
                    library_runs.append(direct(path, batched=True))
                    service_runs.append(run_job(client, path, batched="true", temperature="0")[0])
            dm, sm = statistics.median(d), statistics.median(s)
            # Faster than the library by more than 5 % with the same options is a harness
            # fault (the two are not measured the same way), not a win: the row fails.
            plausible = sm >= 0.95 * dm
            ok = sm <= 1.05 * dm + 0.15 and plausible
            rows.append(
                Row(
                    f"overhead, {label}: service {sm:.2f} s / direct {dm:.2f} s "
                    f"(WER against the library's text: {100 * max(errors):.2f} %"
                    f"{'' if plausible else '; faster than the library: a harness fault'})",
                    f"{sm / dm:.3f}x",
                    "<= 1.05x + 0.15 s, >= 0.95x",
                    ok,
                )
            )
            if path == long_path:
                sequential = sm
        direct.close()
        library_batched = statistics.median(library_runs)
        batched = statistics.median(service_runs)
        rows.append(
            Row(
                f"library alone, batched vs sequential: {library_batched:.2f} s vs {dm:.2f} s",
                f"{dm / library_batched:.2f}x",
                "info",
                None,
            )
        )
        speedup, library = sequential / batched, dm / library_batched
        rows.append(
            Row(  # against the library's own ratio in this run, which moves from run to run
                f"batched vs sequential, speech 3+ min: {batched:.2f} s vs {sequential:.2f} s",
                f"{speedup:.2f}x ({speedup / library:.2f} of the library's {library:.2f}x)",
                ">= 0.95 of the library's",
                speedup >= 0.95 * library,
            )
        )
    return rows


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else float("nan")


def bench_sync_latency(svc: Service, runs: int) -> list[Row]:
    """From the job's completion in the store (its completed_at) to the OpenAI-compatible
    endpoint's response arriving here (same machine, same clock)."""
    gaps = []
    with httpx.Client(base_url=svc.url, timeout=120) as client:
        for _ in range(runs):
            with JFK.open("rb") as f:
                response = client.post(
                    "/v1/audio/transcriptions",
                    files={"file": ("jfk.flac", f)},
                    data={"model": "whisper-1"},
                )
            arrived = datetime.now(UTC)
            response.raise_for_status()
            job = client.get("/v1/jobs", params={"limit": 1}).json()["data"][0]
            gaps.append((arrived - datetime.fromisoformat(job["completed_at"])).total_seconds())
    gap = statistics.median(gaps)
    return [
        Row(
            "sync endpoint: completion in the store to response",
            f"{gap * 1000:.1f} ms",
            "< 50 ms",
            gap < 0.05,
        )
    ]


def load(svc: Service, request: bytes, clients: int, seconds: float) -> LoadResult:
    return asyncio.run(run_load("127.0.0.1", svc.port, request, clients, seconds))


def bench_submission_load(svc: Service, seconds: float, small: Path, label: str) -> list[Row]:
    """The maximum a closed loop of 32 clients gets, then arrivals at fixed rates (open loop:
    latency from each request's due time, so a slow server is not hidden by waiting clients):
    half that maximum (the goal: p99 <= 50 ms for one API process), then 400/s."""
    body, content_type = multipart_file(small.name, small.read_bytes())
    request = build_request("POST", "/v1/jobs", body, content_type)
    closed = load(svc, request, 32, seconds)
    rate = len(closed.latencies) / seconds
    goal = label == "default"
    closed_row = f"submissions/s, closed loop (32 clients), API {label}"
    rows = [Row(closed_row, f"{rate:.0f}", "info", None)]
    errors = closed.errors
    for offered, p99_goal in ((max(1, round(rate / 2)), 0.05), (400, None)):
        run = asyncio.run(run_open_loop("127.0.0.1", svc.port, request, offered, seconds))
        errors += run.errors
        p50, p99 = percentile(run.latencies, 50), percentile(run.latencies, 99)
        if p99_goal is not None:
            met = p99 <= p99_goal if goal else None
            rows.append(
                Row(
                    f"submissions at {offered}/s offered (half the closed loop's), open loop: "
                    f"p50 / p99, API {label}",
                    f"{p50 * 1000:.1f} / {p99 * 1000:.1f} ms",
                    "p99 <= 50 ms" if goal else "info",
                    met,
                )
            )
        else:
            rows.append(
                Row(
                    f"submissions at {offered}/s offered (open loop): done/s, p99, API {label}",
                    f"{run.achieved:.0f}/s, {p99 * 1000:.0f} ms",
                    "info",
                    None,
                )
            )
    rows.append(Row(f"submission errors, API {label}", str(errors), "0", errors == 0))
    return rows


def bench_health_under_load(svc: Service, long_path: Path) -> list[Row]:
    with httpx.Client(base_url=svc.url, timeout=60) as client, long_path.open("rb") as f:
        job_id = client.post(
            "/v1/jobs", files={"file": (long_path.name, f)}, data={"batched": "false"}
        ).json()["id"]
        while client.get(f"/v1/jobs/{job_id}").json()["status"] == "queued":
            time.sleep(0.05)
        result = load(svc, build_request("GET", "/healthz"), 4, 5.0)
        client.delete(f"/v1/jobs/{job_id}")
    p99 = percentile(result.latencies, 99)
    return [
        Row(
            "/healthz p99 (4 clients) while a transcription runs",
            f"{p99 * 1000:.1f} ms",
            "info",
            None,
        )
    ]


def bench_upload_memory(svc: Service, size: int) -> list[Row]:
    boundary = "benchboundary7d1"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="big.bin"\r\nContent-Type: application/octet-stream\r\n\r\n'
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    chunk = os.urandom(1 << 20)

    def body() -> Iterator[bytes]:
        yield head
        for _ in range(size // len(chunk)):
            yield chunk
        yield tail

    assert svc.api is not None
    meter = PeakRss(svc.api.pid)
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    response = httpx.post(f"{svc.url}/v1/jobs", content=body(), headers=headers, timeout=600)
    growth = meter.growth()
    return [
        Row(
            f"upload {size >> 20} MiB: API peak RSS growth (status {response.status_code})",
            f"{growth / 2**20:.1f} MiB",
            "< 64 MiB",
            growth < 64 * 2**20,
        )
    ]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer runs, short load test")
    args = parser.parse_args()
    threads = os.cpu_count() or 2
    runs, load_seconds = (1, 5.0) if args.quick else (3, 20.0)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="whisper-jobs-bench-") as tmp:
        work = Path(tmp)
        long_path = long_speech(work)
        env = {
            "WHISPER_JOBS_CPU_THREADS": str(threads),
            # The load test measures the API, not backpressure: no 429/503 from the caps.
            "WHISPER_JOBS_MAX_ACTIVE_JOBS_PER_KEY": "1000000",
            "WHISPER_JOBS_MAX_ACTIVE_JOBS": "1000000",
            # nor the jobs one key keeps (10,000 by default): the load test submits more
            "WHISPER_JOBS_MAX_JOBS_PER_KEY": "1000000",
        }
        svc = Service(work / "svc", env).start()
        try:
            rows += bench_overhead_and_batching(svc, long_path, runs, threads)
            rows += bench_health_under_load(svc, long_path)
            rows += bench_sync_latency(svc, runs)
            rows += live_and_cancel.rows(svc.url, long_path)
            svc.stop_worker()  # only the API is measured from here on
            small = write_wav(work / "one-second.wav", 0.1 * np.sin(np.arange(16_000) / 5.0))
            rows += bench_submission_load(svc, load_seconds, small, "default")
            svc.restart_api({"WHISPER_JOBS_API_WORKERS": "2"})
            rows += bench_submission_load(svc, load_seconds, small, "2 workers")
            # last, on one API process (its RSS is the server's): the gigabyte written to disk
            # must not slow the load tests down
            svc.restart_api({"WHISPER_JOBS_API_WORKERS": "1"})
            rows += bench_upload_memory(svc, (256 if args.quick else 1024) << 20)
        finally:
            svc.stop()
    with tempfile.TemporaryDirectory(prefix="whisper-jobs-cross-") as tmp:
        rows += cross_job.rows(cross_job.measure(Path(tmp), 8 if args.quick else 32))
    with tempfile.TemporaryDirectory(prefix="whisper-jobs-waiting-") as tmp:
        found = waiting_cost.measure(Path(tmp), 8 if args.quick else 24, 1 if args.quick else 3)
        rows += waiting_cost.rows(found)
    for mixed in (True, False):  # the committed recordings, then espeak-ng's English story
        with tempfile.TemporaryDirectory(prefix="whisper-jobs-long-") as tmp:
            found = long_split.measure(Path(tmp), 200 if args.quick else 600, mixed=mixed)
            rows += long_split.rows(found)
    with tempfile.TemporaryDirectory(prefix="whisper-jobs-s3-") as tmp:
        rows += object_store.measure(Path(tmp), args.quick)
    rss = model_memory.measure(threads)
    for name in ("base loaded", "tiny.en loaded", "after unloading both"):
        rows.append(
            Row(
                f"worker RSS, {name} (idle process {rss['idle process']:.0f} MiB)",
                f"{rss[name]:.0f} MiB",
                "info",
                None,
            )
        )
    print(
        f"\nMachine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, model base int8, {threads} CPU threads\n"
    )
    print("| measure | value | goal | met |\n|---|---|---|---|")
    for r in rows:
        met = "—" if r.ok is None else ("yes" if r.ok else "**no**")
        print(f"| {r.name} | {r.value} | {r.goal} | {met} |")
    return 0 if all(r.ok is not False for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
