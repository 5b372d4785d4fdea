"""Where long recordings are cut: in silences (synthetic audio, a stand-in for VAD), and for the
batched pipeline between its chunks (real speech, Silero VAD)."""

from __future__ import annotations

import numpy as np
import pytest

from worker.decoding.audio import SAMPLE_RATE
from worker.split_cuts import VAD_FRAME, chunk_cuts, chunk_starts, plan_cuts

SR = SAMPLE_RATE


def zero_runs(stretch: np.ndarray) -> list[tuple[int, int]]:
    """A stand-in for VAD on a stretch: its runs of digital silence, as sample ranges."""
    quiet = np.concatenate([[False], stretch == 0, [False]])
    edges = np.flatnonzero(quiet[1:] != quiet[:-1])
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def test_cuts_fall_in_the_silence_nearest_to_an_even_split() -> None:
    rng = np.random.default_rng(0)
    audio = (0.3 * rng.standard_normal(600 * SR)).astype(np.float32)
    for start, end in ((95, 97), (148, 150), (303, 305), (309, 309.5), (449, 451)):
        audio[int(start * SR) : int(end * SR)] = 0.0
    # Evenly: 150, 300, 450 s. (95-97 s is too far from any; 303-305 s is nearer than 309 s.)
    cuts = plan_cuts(audio, 150, zero_runs)
    assert [round(c / SR) for c in cuts] == [149, 304, 450]
    assert all(c % VAD_FRAME == 0 for c in cuts)  # on VAD's frame grid


def test_without_a_silence_near_a_cut_it_goes_at_the_quietest_moment() -> None:
    rng = np.random.default_rng(0)
    audio = (0.3 * rng.standard_normal(300 * SR)).astype(np.float32)
    audio[int(155.0 * SR) : int(155.04 * SR)] = 0.0  # a 40 ms dip, 5 s from the even cut
    (cut,) = plan_cuts(audio, 150, lambda _: [])
    assert 155.0 * SR - VAD_FRAME <= cut <= 155.04 * SR + VAD_FRAME


def test_short_audio_is_one_part() -> None:
    assert plan_cuts(np.zeros(100 * SR, dtype=np.float32), 150, lambda _: []) == []


def test_batched_cuts_give_each_part_the_whole_runs_chunks(jfk_x10: np.ndarray) -> None:
    cuts = chunk_cuts(jfk_x10, 30, None)
    assert len(cuts) >= 2 and all(c % VAD_FRAME == 0 for c in cuts)
    whole = chunk_starts(jfk_x10, None)
    bounds = [0, *cuts, len(jfk_x10)]
    for a, b in zip(bounds, bounds[1:], strict=False):
        own = [a + s for s in chunk_starts(jfk_x10[a:b], None)]
        theirs = [s for s in whole if a - VAD_FRAME <= s < b - VAD_FRAME]
        # The same chunks, each starting within a frame of where the whole run's does.
        assert len(own) == len(theirs), (a / SR, own, theirs)
        assert all(abs(x - y) <= VAD_FRAME for x, y in zip(own, theirs, strict=True))


def test_silence_is_not_cut() -> None:
    assert chunk_cuts(np.zeros(200 * SR, dtype=np.float32), 30, None) == []


@pytest.fixture(scope="module")
def jfk_x10() -> np.ndarray:
    from faster_whisper import decode_audio

    from tests.conftest import JFK

    return np.tile(decode_audio(str(JFK)), 10)
