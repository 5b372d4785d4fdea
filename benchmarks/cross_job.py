"""Many short jobs decoded together, against the best a caller gets from the library alone.

32 clips of 3–25 s of speech cut from the committed recordings (JFK, and espeak-ng's German and
French): a plain loop of `WhisperModel.transcribe` (base, int8, 2 threads, every option at its
default: beam 5, the temperature fallback, language detected) beside the service given all 32
at once with no setting and no option (the worker picks its own layout for the cores it finds;
`--set NAME=VALUE` to try another), its client reading the job list every 0.5 s. Jobs per
minute both ways, from the first submission to the last completion, and fidelity: the
service's words against the loop's (WER) over the clips both decoded at temperature 0, after
the engine's one rule of its own (segments starting past the end of the audio are dropped) is
applied to the loop's output too. Part of `make bench`; alone:
`python -m benchmarks.cross_job [--clips N]`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from benchmarks.harness import DATA, JFK, ROOT, Row, Service
from worker.decoding.audio import write_wav
from worker.decoding.model_loading import construct_apart

LENGTHS = [3, 5, 8, 11, 15, 20, 25]  # seconds, cycled


def make_clips(directory: Path, count: int) -> list[Path]:
    from faster_whisper import decode_audio

    speech = np.concatenate(
        [decode_audio(str(p)) for p in (JFK, DATA / "de.wav", DATA / "fr.wav")] * 3
    )
    clips, position = [], 0
    for i in range(count):
        n = LENGTHS[i % len(LENGTHS)] * 16_000
        position = 0 if position + n > len(speech) else position
        clips.append(write_wav(directory / f"clip{i:02d}.wav", speech[position : position + n]))
        position += n
    return clips


def library_loop(
    clips: list[Path], threads: int, model: Any = None
) -> tuple[float, list[str], list[bool]]:
    """Seconds for the whole loop, each clip's text (segments past its end dropped), and
    whether it fell back to sampling (a temperature over 0: random, run to run).
    `model`: a loaded `WhisperModel` (the GPU bench's); by default base, int8, on the CPU."""
    from faster_whisper import WhisperModel

    from worker.decoding.weights import resolve_model

    if model is None:
        path = resolve_model("base", ROOT / "data" / "models")
        model = construct_apart(  # as the worker does: worker/decoding/model_loading.py
            lambda: WhisperModel(path, device="cpu", compute_type="int8", cpu_threads=threads)
        )
    list(model.transcribe(str(clips[0]))[0])  # warm, as the worker
    texts, sampled = [], []
    started = time.perf_counter()
    for clip in clips:
        segments, info = model.transcribe(str(clip))  # every option at its default
        kept = [s for s in segments if s.start < info.duration]
        texts.append("".join(s.text for s in kept).strip())
        sampled.append(any(s.temperature for s in kept))
    return time.perf_counter() - started, texts, sampled


def through_service(
    clips: list[Path],
    work: Path,
    env: dict[str, str],
    poll: float = 0.5,
    grace: float = 120,
    warm_jobs: int = 1,
) -> tuple[float, list[Any]]:
    env = {"WHISPER_JOBS_MAX_ACTIVE_JOBS_PER_KEY": "1000", **env}
    svc = Service(work, env, stop_grace=grace).start()
    try:
        with httpx.Client(base_url=svc.url, timeout=60) as client:

            def submit(path: Path) -> str:
                with path.open("rb") as f:
                    answer = client.post("/v1/jobs", files={"file": (path.name, f)}, data={})
                answer.raise_for_status()
                return str(answer.json()["id"])

            # One warm-up job per worker process (the pool's processes load the model as they
            # start; a first job in each should not be timed).
            warm = [submit(clips[0]) for _ in range(warm_jobs)]
            for job_id in warm:
                while client.get(f"/v1/jobs/{job_id}").json()["status"] != "completed":
                    time.sleep(0.05)
            started = time.perf_counter()
            ids = [submit(clip) for clip in clips]
            ended: dict[str, Any] = {}
            while len(ended) < len(ids):
                time.sleep(poll)
                for job in client.get("/v1/jobs", params={"limit": 100}).json()["data"]:
                    if job["id"] in ids and job["status"] in ("completed", "failed", "canceled"):
                        ended.setdefault(job["id"], job)
            seconds = time.perf_counter() - started
            jobs = [client.get(f"/v1/jobs/{i}").json() for i in ids]
            return seconds, jobs
    finally:
        svc.stop()


def measure(
    work: Path, count: int, threads: int = 2, env: dict[str, str] | None = None
) -> dict[str, Any]:
    from tests.transcripts import normalize, wer

    clips = make_clips(work, count)
    loop_seconds, loop_texts, loop_sampled = library_loop(clips, threads)
    seconds, jobs = through_service(clips, work / "svc", env or {})
    texts = [j["result"]["text"] if j["status"] == "completed" else "" for j in jobs]
    sampled = [
        a or any(s["temperature"] for s in (j.get("result") or {}).get("segments", []))
        for a, j in zip(loop_sampled, jobs, strict=True)
    ]
    # Fidelity over the clips both decoded at temperature 0: a clip that fell back to sampling
    # on either side is random run to run, in the library alone too.
    kept = [i for i in range(count) if not sampled[i]]
    reference = " ".join(loop_texts[i] for i in kept)
    return {
        "clips": count,
        "audio_s": sum(LENGTHS[i % len(LENGTHS)] for i in range(count)),
        "library_s": round(loop_seconds, 2),
        "service_s": round(seconds, 2),
        "library_jobs_per_min": round(60 * count / loop_seconds, 1),
        "service_jobs_per_min": round(60 * count / seconds, 1),
        "speedup": round(loop_seconds / seconds, 3),
        "sampled": count - len(kept),
        "wer": round(wer(reference, " ".join(texts[i] for i in kept)), 4),
        "wer_all": round(wer(" ".join(loop_texts), " ".join(texts)), 4),
        "words": len(normalize(reference).split()),
        "same_text": sum(normalize(texts[i]) == normalize(loop_texts[i]) for i in kept),
        "statuses": sorted({j["status"] for j in jobs}),
    }


def rows(r: dict[str, Any]) -> list[Row]:
    all_completed = r["statuses"] == ["completed"]
    return [
        Row(
            f"cross-job, {r['clips']} clips of 3–25 s: jobs/min, service with no settings "
            f"{r['service_jobs_per_min']} vs library loop {r['library_jobs_per_min']}",
            f"{r['speedup']:.2f}x",
            ">= 1.75x",
            r["speedup"] >= 1.75,
        ),
        Row(
            f"cross-job fidelity: the service's words against the loop's, over the "
            f"{r['clips'] - r['sampled']} clips decoded at temperature 0 both ways ({r['words']} "
            f"words, {r['same_text']} texts the same; {r['sampled']} fell back to sampling, "
            f"random: WER over all {100 * r['wer_all']:.2f} %)",
            f"WER {100 * r['wer']:.2f} %",
            "<= 1 %",
            r["wer"] <= 0.01 and all_completed,
        ),
    ]


def main() -> None:
    import tempfile

    parser = argparse.ArgumentParser()
    parser.add_argument("--clips", type=int, default=32)
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a worker setting other than the bench's (to see what each gives)",
    )
    args = parser.parse_args()
    env = dict(item.split("=", 1) for item in args.set)
    with tempfile.TemporaryDirectory(prefix="whisper-jobs-cross-") as tmp:
        json.dump({"env": env, **measure(Path(tmp), args.clips, env=env)}, sys.stdout)
        print()


if __name__ == "__main__":
    main()
