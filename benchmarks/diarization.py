"""Diarization: accuracy on real voices and what it adds to a job.

- DER (pyannote.metrics; collar 0.25 s each side, overlap left out) and the speaker count found
  without a hint, on the real two-person recording and on conversations built from the three
  real voices the repository has (tests/conversations.py: turns of 1-6 s, seeded).
- Cost: one job through the engine in this process (base, int8, 2 threads, default options),
  without and with `diarize=true` (which also aligns words), interleaved, medians.
- Memory and time of the speaker turns alone on a 2-hour recording (the built conversation
  repeated), peak traced memory of the step.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
from faster_whisper.audio import decode_audio

from app.contract.jobs import JobOptions
from benchmarks.harness import ROOT, Row, write_wav
from tests.conversations import conversation
from tests.speaker_turns import TWO_SPEAKERS, der, rttm_turns
from worker.decoding.engine import EngineConfig, WhisperEngine
from worker.diarization.speaker_embeddings import SpeakerEncoder
from worker.diarization.speaker_turns import speaker_turns

CASES = [
    (["speaker90", "speaker91"], 1),
    (["speaker90", "speaker91"], 2),
    (["speaker90", "jfk"], 3),
    (["speaker91", "jfk"], 4),
    (["speaker90", "speaker91", "jfk"], 5),
    (["speaker90", "speaker91", "jfk"], 6),
]


def accuracy(encoder: SpeakerEncoder) -> list[dict[str, Any]]:
    found = []
    audio = decode_audio(str(TWO_SPEAKERS))
    inputs = [("two-speakers.flac (real)", audio, rttm_turns(TWO_SPEAKERS.with_suffix(".rttm")))]
    for speakers, seed in CASES:
        built, reference = conversation(speakers, turns=16, seed=seed)
        inputs.append((f"built: {' + '.join(speakers)}, seed {seed}", built, reference))
    for name, samples, reference in inputs:
        truth = len({who for _, _, who in reference})
        estimated = speaker_turns(samples, encoder)
        given = speaker_turns(samples, encoder, num_speakers=truth)
        found.append(
            {
                "name": name,
                "seconds": round(len(samples) / 16_000, 1),
                "speakers": truth,
                "counted": len({t.speaker for t in estimated}),
                "der": der(reference, [(t.start, t.end, t.speaker) for t in estimated]),
                "der_given": der(reference, [(t.start, t.end, t.speaker) for t in given]),
            }
        )
    return found


def ignore(*_: object) -> None:
    """Segments and progress: not needed here."""


def cost(work: Path, runs: int) -> dict[str, Any]:
    # A 2-minute conversation of the three voices: long enough to matter, short for a bench.
    samples, _ = conversation(["speaker90", "speaker91", "jfk"], turns=40, seed=7)
    path = write_wav(work / "conversation.wav", samples)
    engine = WhisperEngine(EngineConfig(models_dir=ROOT / "data" / "models", cpu_threads=2))
    engine.transcribe(path, JobOptions(), ignore)  # warm
    plain, diarized, texts = [], [], {}
    for _ in range(runs):
        for diarize, out in ((False, plain), (True, diarized)):
            started = time.perf_counter()
            result = engine.transcribe(path, JobOptions(diarize=diarize), ignore)
            out.append(time.perf_counter() - started)
            texts[diarize] = result.text
    from tests.transcripts import wer

    return {
        "audio_s": round(len(samples) / 16_000, 1),
        "plain_s": statistics.median(plain),
        "diarized_s": statistics.median(diarized),
        "wer": wer(texts[False], texts[True]),
    }


def long_recording(encoder: SpeakerEncoder, hours: float = 2.0) -> dict[str, Any]:
    piece, _ = conversation(["speaker90", "speaker91", "jfk"], turns=40, seed=8)
    samples = np.tile(piece, int(np.ceil(hours * 3600 * 16_000 / len(piece))))
    tracemalloc.start()
    started = time.perf_counter()
    turns = speaker_turns(samples, encoder)
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "audio_s": len(samples) / 16_000,
        "seconds": seconds,
        "peak_mib": peak / 2**20,
        "audio_mib": samples.nbytes / 2**20,
        "speakers": len({t.speaker for t in turns}),
    }


def measure(work: Path, runs: int = 3, long_hours: float = 2.0) -> dict[str, Any]:
    encoder = SpeakerEncoder()
    return {
        "accuracy": accuracy(encoder),
        "cost": cost(work, runs),
        "long": long_recording(encoder, long_hours),
    }


def rows(r: dict[str, Any]) -> list[Row]:
    out = []
    for case in r["accuracy"]:
        out.append(
            Row(
                f"diarization DER, {case['name']} ({case['seconds']} s, {case['speakers']} "
                f"speakers; counted {case['counted']}); with the count given: "
                f"{100 * case['der_given']:.1f} %",
                f"{100 * case['der']:.1f} %",
                "<= 10 %, count right",
                case["der"] <= 0.10 and case["counted"] == case["speakers"],
            )
        )
    c = r["cost"]
    added = c["diarized_s"] / c["plain_s"] - 1
    out.append(
        Row(
            f"diarize=true on a {c['audio_s']:.0f}-s conversation (base, 2 threads): "
            f"{c['diarized_s']:.2f} s vs {c['plain_s']:.2f} s without (words: WER "
            f"{100 * c['wer']:.2f} % against the job without)",
            f"+{100 * added:.1f} %",
            "<= +15 %",
            added <= 0.15,
        )
    )
    long = r["long"]
    out.append(
        Row(
            f"speaker turns of a {long['audio_s'] / 3600:.1f}-hour recording: "
            f"{long['seconds']:.0f} s on one thread, {long['speakers']} speakers",
            f"peak {long['peak_mib']:.0f} MiB (the audio itself {long['audio_mib']:.0f} MiB)",
            "bounded",
            None,
        )
    )
    return out


def main() -> None:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="whisper-jobs-diarize-") as tmp:
        hours = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
        found = measure(Path(tmp), long_hours=hours)
        json.dump(found, sys.stdout, default=float)
        print()
        for row in rows(found):
            print(f"| {row.name} | {row.value} | {row.goal} | {row.ok} |")


if __name__ == "__main__":
    main()
