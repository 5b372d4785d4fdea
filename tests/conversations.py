"""Conversations built from real voices, with their reference turns: for diarization's tests
and `make bench`.

The voices: the two speakers of tests/data/two-speakers.flac (where its reference says each
speaks alone) and JFK. Each turn is a piece of 1 to 6 s of one voice's speech (as long as its
stretch allows), no voice twice in a row, 0.3 s of silence between turns; the pieces, order and
lengths come from a seed. Three real voices is what the repository has (tests/data/README.md).
"""

from __future__ import annotations

import random
from functools import cache
from pathlib import Path

import numpy as np
from faster_whisper.audio import decode_audio

from tests.speaker_turns import TWO_SPEAKERS, rttm_turns

RATE = 16_000
JFK = Path(__file__).parent / "data" / "jfk.flac"
JFK_SPEECH = (0.3, 10.6)  # seconds of jfk.flac with speech (its pauses included)
GAP = 0.3


@cache
def voices() -> dict[str, list[np.ndarray]]:
    """Each voice's stretches of solo speech of at least 1 s."""
    audio = decode_audio(str(TWO_SPEAKERS))
    turns = rttm_turns(TWO_SPEAKERS.with_suffix(".rttm"))
    found: dict[str, list[np.ndarray]] = {}
    for start, end, who in turns:
        pieces = [(start, end)]
        for other_start, other_end, other in turns:
            if other == who:
                continue
            cut = []
            for a, b in pieces:  # take the other speaker's turn out of each piece
                if other_end <= a or other_start >= b:
                    cut.append((a, b))
                    continue
                cut += [p for p in ((a, other_start), (other_end, b)) if p[1] > p[0]]
            pieces = cut
        for a, b in pieces:
            if b - a >= 1.0:
                found.setdefault(who, []).append(audio[int(a * RATE) : int(b * RATE)])
    jfk = decode_audio(str(JFK))
    found["jfk"] = [jfk[int(JFK_SPEECH[0] * RATE) : int(JFK_SPEECH[1] * RATE)]]
    return found


def conversation(
    speakers: list[str], turns: int, seed: int
) -> tuple[np.ndarray, list[tuple[float, float, str]]]:
    """The audio and its reference (start, end, speaker) turns."""
    rng = random.Random(seed)
    pool = voices()
    pieces: list[np.ndarray] = []
    reference: list[tuple[float, float, str]] = []
    at, last = GAP, None
    for _ in range(turns):
        who = rng.choice([s for s in speakers if s != last])
        stretch = rng.choice(pool[who])
        length = min(len(stretch), int(rng.uniform(1.0, 6.0) * RATE))
        offset = rng.randrange(0, len(stretch) - length + 1)
        pieces += [np.zeros(int(GAP * RATE), np.float32), stretch[offset : offset + length]]
        reference.append((round(at, 3), round(at + length / RATE, 3), who))
        at += length / RATE + GAP
        last = who
    return np.concatenate(pieces), reference
