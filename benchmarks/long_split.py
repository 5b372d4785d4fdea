"""A long recording across workers, against one worker and against the library at its best.

A 10-minute English recording (`tests/data/story.txt` read by espeak-ng, five times), `base` int8,
every option at its default (beam 5, the temperature fallback, batched inference: the job is
over `WHISPER_JOBS_BATCH_MIN_SECONDS`):
- the service with one worker process of one CPU thread, the job run whole;
- the service with two worker processes of one thread each and no split setting: the service
  sees two model calls live and cuts the job itself, in parts it sizes (`SplitPolicy`);
- `BatchedInferencePipeline.transcribe` in one process with both cores (2 threads), batch 8 as
  the service's.
Each service time runs from the submission to the completion seen by the client; fidelity is
the split run's words against the whole run's (WER). Part of `make bench`; alone:
`python -m benchmarks.long_split`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from benchmarks.harness import DATA, ROOT, Row, Service, long_speech
from worker.decoding.audio import write_wav
from worker.decoding.model_loading import construct_apart

WHOLE = {"WHISPER_JOBS_CPU_THREADS": "1"}


#: Two workers of one thread, and nothing else: the service cuts the job itself when it sees two
#: calls live (`worker.split_jobs.SplitPolicy`), in parts it sizes.
SPLIT = {"WHISPER_JOBS_CPU_THREADS": "1", "WHISPER_JOBS_WORKER_CONCURRENCY": "2"}


def through_service(audio: Path, work: Path, env: dict[str, str]) -> tuple[float, dict[str, Any]]:
    svc = Service(work, env).start()
    try:
        with httpx.Client(base_url=svc.url, timeout=60) as client:
            started = time.perf_counter()
            with audio.open("rb") as f:
                job_id = client.post("/v1/jobs", files={"file": (audio.name, f)}, data={}).json()[
                    "id"
                ]
            while (job := client.get(f"/v1/jobs/{job_id}").json())["status"] not in (
                "completed",
                "failed",
                "canceled",
            ):
                time.sleep(0.2)
            return time.perf_counter() - started, job
    finally:
        svc.stop()


def library_batched(audio: Path, threads: int = 2) -> float:
    from faster_whisper import BatchedInferencePipeline, WhisperModel

    from worker.decoding.weights import resolve_model

    path = resolve_model("base", ROOT / "data" / "models")
    model = construct_apart(  # as the worker does: worker/decoding/model_loading.py
        lambda: WhisperModel(path, device="cpu", compute_type="int8", cpu_threads=threads)
    )
    pipeline = BatchedInferencePipeline(model)
    started = time.perf_counter()
    segments, _ = pipeline.transcribe(str(audio), batch_size=8)  # the service's defaults
    list(segments)
    return time.perf_counter() - started


def english_speech(work: Path, seconds: float) -> Path:
    """`tests/data/story.txt` read by espeak-ng (about 2 minutes, English, never repeating
    itself within a part), over and over until `seconds`; the committed recordings when
    espeak-ng is not installed."""
    if shutil.which("espeak-ng") is None:
        return long_speech(work, min_seconds=seconds)
    from faster_whisper import decode_audio

    story = work / "story.wav"
    subprocess.run(
        ["espeak-ng", "-s", "165", "-w", str(story), "-f", str(DATA / "story.txt")], check=True
    )
    once = decode_audio(str(story))
    times = int(seconds * 16_000 // len(once)) + 1
    return write_wav(work / "long-story.wav", np.tile(once, times))


def measure(work: Path, seconds: float = 600.0, mixed: bool = False) -> dict[str, Any]:
    """`mixed`: the committed recordings (JFK, German, French) over and over, not the story."""
    from tests.transcripts import wer

    audio = long_speech(work, min_seconds=seconds) if mixed else english_speech(work, seconds)
    whole_s, whole = through_service(audio, work / "whole", WHOLE)
    split_s, split = through_service(audio, work / "split", SPLIT)
    library_s = library_batched(audio)
    texts = [j["result"]["text"] if j["status"] == "completed" else "" for j in (whole, split)]
    return {
        "audio": "JFK, German, French" if mixed else "story",
        "audio_s": round(whole["audio_seconds"] or 0, 1),
        "one_worker_s": round(whole_s, 2),
        "two_workers_split_s": round(split_s, 2),
        "library_batched_2_threads_s": round(library_s, 2),
        "scaling": round(whole_s / split_s, 3),
        "vs_library": round(library_s / split_s, 3),
        "wer_split_vs_whole": round(wer(texts[0], texts[1]), 4),
        "statuses": [whole["status"], split["status"]],
    }


def rows(r: dict[str, Any]) -> list[Row]:
    ok = r["statuses"] == ["completed", "completed"]
    return [
        Row(
            f"long file ({r['audio']}, {r['audio_s']:.0f} s) on 2 workers × 1 thread, no split "
            f"setting: {r['two_workers_split_s']:.1f} s vs 1 worker × 1 thread "
            f"{r['one_worker_s']:.1f} s",
            f"{r['scaling']:.2f}x",
            ">= 1.7x",
            ok and r["scaling"] >= 1.7,
        ),
        Row(
            f"long file ({r['audio']}), 2 workers vs the library's batched pipeline on 2 threads "
            f"({r['library_batched_2_threads_s']:.1f} s)",
            f"{r['vs_library']:.2f}x",
            "> 1x (faster)",
            ok and r["vs_library"] > 1.0,
        ),
        Row(
            f"long file ({r['audio']}), the parts' merged words against the whole run's",
            f"WER {100 * r['wer_split_vs_whole']:.2f} %",
            "<= 2 %",
            ok and r["wer_split_vs_whole"] <= 0.02,
        ),
    ]


def main() -> None:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="whisper-jobs-long-") as tmp:
        json.dump(measure(Path(tmp), mixed="--mixed" in sys.argv), sys.stdout)
        print()


if __name__ == "__main__":
    main()
