"""Who speaks when: a recording's speech cut into turns, each with a speaker label.

Speech regions from faster-whisper's Silero VAD, an embedding every `STEP_SECONDS` inside them
(`speaker_embeddings`), one label per embedding (`clustering`), one-window flips smoothed away,
then each window's label held from halfway to its neighbours. Labels are `A`, `B`, ... in order
of first speech. The caller's `check(progress)` runs between batches of windows and may raise to
stop (a cancel). Nothing about segments or words here (`segment_speakers` does that).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from worker.diarization.clustering import cluster
from worker.diarization.speaker_embeddings import BATCH, SAMPLE_RATE, SpeakerEncoder, windows_of

STEP_SECONDS = 0.75  # window every 0.75 s: turns to about a word; cost measured in BENCHMARKS.md


@dataclass(frozen=True)
class Turn:
    start: float
    end: float
    speaker: str


def speaker_label(index: int) -> str:
    """A..Z, then AA, AB...: short enough for a VTT voice tag."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def speech_regions(audio: np.ndarray) -> list[tuple[int, int]]:
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    options = VadOptions(min_silence_duration_ms=300, speech_pad_ms=100)
    return [(r["start"], r["end"]) for r in get_speech_timestamps(audio, options)]


def _smooth(labels: np.ndarray, regions: np.ndarray) -> np.ndarray:
    out = labels.copy()
    for i in range(1, len(labels) - 1):
        same_region = regions[i - 1] == regions[i] == regions[i + 1]
        if same_region and out[i - 1] == labels[i + 1] != labels[i]:
            out[i] = out[i - 1]
    return out


def speaker_turns(
    audio: np.ndarray,
    encoder: SpeakerEncoder,
    num_speakers: int | None = None,
    min_speakers: int = 1,
    max_speakers: int = 8,
    check: Callable[[float], None] | None = None,
) -> list[Turn]:
    regions = speech_regions(audio)
    step = int(STEP_SECONDS * SAMPLE_RATE)
    centres: list[int] = []
    owners: list[int] = []
    windows: list[np.ndarray] = []
    for owner, region in enumerate(regions):
        for centre, window in windows_of(audio, [region], step):
            centres.append(centre)
            owners.append(owner)
            windows.append(window)
    embeddings = []
    for i in range(0, len(windows), BATCH):
        if check is not None:
            check(i / max(len(windows), 1))
        embeddings.append(encoder.embed(np.stack(windows[i : i + BATCH])))
    if not windows:
        return []
    labels = cluster(np.concatenate(embeddings), num_speakers, min_speakers, max_speakers)
    labels = _smooth(labels, np.array(owners))
    turns: list[Turn] = []
    for i, (centre, owner) in enumerate(zip(centres, owners, strict=True)):
        start_sample, end_sample = regions[owner]
        left = start_sample if i == 0 or owners[i - 1] != owner else (centres[i - 1] + centre) // 2
        last = i + 1 == len(centres) or owners[i + 1] != owner
        right = end_sample if last else (centre + centres[i + 1]) // 2
        speaker = speaker_label(int(labels[i]))
        start, end = left / SAMPLE_RATE, right / SAMPLE_RATE
        if turns and turns[-1].speaker == speaker and start - turns[-1].end < 0.5:
            turns[-1] = Turn(turns[-1].start, end, speaker)
        else:
            turns.append(Turn(round(start, 3), round(end, 3), speaker))
    return [Turn(t.start, round(t.end, 3), t.speaker) for t in turns]
