"""`make bench` on a GPU: the service beside faster-whisper on CUDA, per model and compute type.

For each model (base, tiny.en) and compute type (float16, int8_float16), side by side in one run:
- one job, 3+ min of real speech (`harness.long_speech`), beam 5, temperature 0: the service's
  job (submission to completion) against `WhisperModel.transcribe` in this process, sequential and
  batched (`BatchedInferencePipeline`, batch 16; the service's `WHISPER_JOBS_BATCH_SIZE=16`),
  interleaved rounds, medians; the batched goal is the library's own batched/sequential ratio;
- cross-job: 32 clips of 3–25 s (`cross_job.make_clips`) given to the service at once, against
  a plain loop of `transcribe` over the same clips with the same loaded model; the service
  either decodes 16 jobs together in one process or runs 4 worker processes of one job each
  (`CROSS_SETTINGS`). Goal (#16): ≥ 4x the loop's jobs per minute (the better setting), the
  service's words within 1 % WER of the loop's (each setting);
- the worker process's GPU memory with one model loaded, as nvidia-smi reports it.
Run where a GPU is: `python -m benchmarks.gpu [--models base] [--json PATH]`; it also runs on a
CPU (`--device cpu --compute-types int8`) as a smoke run. Loopback only. Exits 1 when a goal is
missed.
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks import cross_job
from benchmarks.harness import JFK, ROOT, Row, Service, long_speech, run_job
from worker.decoding.model_loading import construct_apart
from worker.decoding.weights import resolve_model

BATCH_SIZE = 16  # the library's and the service's batched pipeline alike
# The service's settings for the cross-job run: jobs decoded together in one process (their
# model calls merged), or several worker processes of one job each (nothing merged: each job's
# numbers are those of the job alone, and the GPU interleaves the processes' small kernels).
CROSS_SETTINGS = {
    "16 together": {"WHISPER_JOBS_BATCH_JOBS": "16"},
    "4 processes": {"WHISPER_JOBS_WORKER_CONCURRENCY": "4"},
}
CONFIG_SECONDS = 150  # one model and compute type, all of its rows; past it the config fails


def _out_of_time(*_: Any) -> None:
    raise TimeoutError(f"over {CONFIG_SECONDS} s")


def timed(segments_and_info: tuple[Any, Any]) -> None:
    list(segments_and_info[0])


def worker_gpu_mib(svc: Service) -> str:
    """GPU memory nvidia-smi attributes to the worker's processes (or why it can't say)."""
    import psutil

    assert svc.worker is not None
    ours = {svc.worker.pid} | {p.pid for p in psutil.Process(svc.worker.pid).children(True)}
    try:
        listing = subprocess.run(
            ["nvidia-smi", "--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError) as e:
        return f"not readable ({e.__class__.__name__})"
    used = [
        int(m) for pid, m in (line.split(", ") for line in listing.splitlines()) if int(pid) in ours
    ]
    return f"{sum(used)} MiB" if used else f"not attributed (nvidia-smi: {listing.strip()!r})"


def service_env(args: argparse.Namespace, model: str, compute_type: str) -> dict[str, str]:
    return {
        "WHISPER_JOBS_DEVICE": args.device,
        "WHISPER_JOBS_COMPUTE_TYPE": compute_type,
        "WHISPER_JOBS_MODEL": model,
        "WHISPER_JOBS_MODELS": model,
        "WHISPER_JOBS_BATCH_SIZE": str(BATCH_SIZE),
        "WHISPER_JOBS_WORKER_CONCURRENCY": "1",
        "WHISPER_JOBS_MAX_ACTIVE_JOBS_PER_KEY": "1000",
    }


def one_config(
    args: argparse.Namespace,
    work: Path,
    long_path: Path,
    clips: list[Path],
    model_name: str,
    compute_type: str,
) -> dict[str, Any]:
    from faster_whisper import BatchedInferencePipeline, WhisperModel

    path = resolve_model(model_name, ROOT / "data" / "models")
    model = construct_apart(  # as the worker does: worker/decoding/model_loading.py
        lambda: WhisperModel(path, device=args.device, compute_type=compute_type)
    )
    pipeline = BatchedInferencePipeline(model)
    timed(model.transcribe(str(JFK), beam_size=5, temperature=0.0))  # warm, as the worker is
    env = service_env(args, model_name, compute_type)
    r: dict[str, Any] = {"model": model_name, "compute_type": compute_type}
    times: dict[str, list[float]] = {"lib_seq": [], "svc_seq": [], "lib_bat": [], "svc_bat": []}
    svc = Service(work / f"{model_name}-{compute_type}-single", env, stop_grace=20).start()
    try:
        with httpx.Client(base_url=svc.url, timeout=600) as client:
            run_job(client, JFK, batched="false", temperature="0")  # warm
            r["worker_gpu_memory"] = worker_gpu_mib(svc)
            for _ in range(args.rounds):  # interleaved: drift hits both sides
                started = time.perf_counter()
                timed(model.transcribe(str(long_path), beam_size=5, temperature=0.0))
                times["lib_seq"].append(time.perf_counter() - started)
                times["svc_seq"].append(
                    run_job(client, long_path, batched="false", temperature="0")[0]
                )
                started = time.perf_counter()
                timed(
                    pipeline.transcribe(
                        str(long_path), beam_size=5, temperature=0.0, batch_size=BATCH_SIZE
                    )
                )
                times["lib_bat"].append(time.perf_counter() - started)
                times["svc_bat"].append(
                    run_job(client, long_path, batched="true", temperature="0")[0]
                )
    finally:
        svc.stop()
    r.update({k: round(statistics.median(v), 3) for k, v in times.items()})
    r["runs"] = times
    from tests.transcripts import normalize, wer

    loop_s, loop_texts, _ = cross_job.library_loop(clips, 0, model=model)
    r["loop_s"], r["cross"] = round(loop_s, 3), {}
    for label, settings in CROSS_SETTINGS.items():
        seconds, jobs = cross_job.through_service(
            clips,
            work / f"{model_name}-{compute_type}-{label.replace(' ', '-')}",
            {**env, **settings},
            poll=0.05,
            grace=20,
            warm_jobs=int(settings.get("WHISPER_JOBS_WORKER_CONCURRENCY", "1")),
        )
        texts = [j["result"]["text"] if j["status"] == "completed" else "" for j in jobs]
        r["cross"][label] = {
            "seconds": round(seconds, 3),
            "speedup": round(loop_s / seconds, 3),
            "wer": round(wer(" ".join(loop_texts), " ".join(texts)), 4),
            "same_text": sum(normalize(a) == normalize(b) for a, b in zip(texts, loop_texts)),  # noqa: B905
            "statuses": sorted({j["status"] for j in jobs}),
        }
    return r


def rows(r: dict[str, Any], clips: int) -> list[Row]:
    name = f"{r['model']} {r['compute_type']}"
    library_ratio, ratio = r["lib_seq"] / r["lib_bat"], r["svc_seq"] / r["svc_bat"]
    table = [
        Row(
            f"{name}: one job, 3+ min, sequential: service {r['svc_seq']:.2f} s / library "
            f"{r['lib_seq']:.2f} s",
            f"{r['svc_seq'] / r['lib_seq']:.2f}x",
            "info",
            None,
        ),
        Row(
            f"{name}: one job, 3+ min, batched ({BATCH_SIZE}): service {r['svc_bat']:.2f} s / "
            f"library {r['lib_bat']:.2f} s",
            f"{r['svc_bat'] / r['lib_bat']:.2f}x",
            "info",
            None,
        ),
        Row(
            f"{name}: batched vs sequential, service {ratio:.2f}x, library {library_ratio:.2f}x",
            f"{ratio / library_ratio:.2f} of the library's",
            ">= 0.95 of the library's",
            ratio >= 0.95 * library_ratio,
        ),
        Row(
            f"{name}: the worker's GPU memory, one model loaded",
            r["worker_gpu_memory"],
            "info",
            None,
        ),
    ]
    for label, c in r["cross"].items():
        table += [
            Row(
                f"{name}: cross-job, {clips} clips, service ({label}) {c['seconds']:.2f} s vs "
                f"library loop {r['loop_s']:.2f} s",
                f"{c['speedup']:.2f}x",
                "info",
                None,
            ),
            Row(
                f"{name}: cross-job fidelity ({label}), the service's words against the loop's "
                f"({c['same_text']}/{clips} texts the same)",
                f"WER {100 * c['wer']:.2f} %",
                "<= 1 %",
                c["wer"] <= 0.01 and c["statuses"] == ["completed"],
            ),
        ]
    label, best = max(r["cross"].items(), key=lambda item: item[1]["speedup"])
    table.append(
        Row(
            f"{name}: cross-job jobs per minute over the loop's, best setting ({label})",
            f"{best['speedup']:.2f}x",
            ">= 4x",
            best["speedup"] >= 4,
        )
    )
    return table


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--models", default="base,tiny.en")
    parser.add_argument("--compute-types", default="float16,int8_float16")
    parser.add_argument("--clips", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--work", type=Path, default=None, help="keep the services' logs here")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="whisper-jobs-gpu-"))
    work.mkdir(parents=True, exist_ok=True)
    long_path, clips = long_speech(work), cross_job.make_clips(work, args.clips)
    results, table = [], []
    for model_name in args.models.split(","):
        for compute_type in args.compute_types.split(","):
            signal.signal(signal.SIGALRM, _out_of_time)
            signal.alarm(CONFIG_SECONDS)  # a job that never ends must not take the whole run
            try:
                result = one_config(args, work, long_path, clips, model_name, compute_type)
            except Exception as e:  # the other configurations still run; this one is a miss
                result = {"model": model_name, "compute_type": compute_type, "error": repr(e)}
                table.append(Row(f"{model_name} {compute_type}", f"failed: {e!r}", "runs", False))
            else:
                table.extend(rows(result, args.clips))
            finally:
                signal.alarm(0)
            results.append(result)
            print(json.dumps(result), file=sys.stderr, flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=1))
    print("| measure | value | goal | met |\n| --- | --- | --- | --- |")
    for row in table:
        met = "info" if row.ok is None else ("yes" if row.ok else "**no**")
        print(f"| {row.name} | {row.value} | {row.goal} | {met} |")
    sys.exit(0 if all(row.ok is not False for row in table) else 1)


if __name__ == "__main__":
    main()
