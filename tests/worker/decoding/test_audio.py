"""Decoding uploads: the samples are faster-whisper's own, whatever the container."""

from pathlib import Path

import numpy as np
import pytest
from faster_whisper import decode_audio

from tests.conftest import DATA, JFK
from worker.decoding.audio import decode


@pytest.mark.parametrize("path", [JFK, DATA / "de.wav", DATA / "fr.wav", DATA / "stereo.wav"])
def test_samples_equal_faster_whispers(path: Path) -> None:
    (ours,) = decode(path)
    assert np.array_equal(ours, decode_audio(str(path)))


def test_split_channels_equal_faster_whispers() -> None:
    left, right = decode(DATA / "stereo.wav", split=True)
    theirs = decode_audio(str(DATA / "stereo.wav"), split_stereo=True)
    assert np.array_equal(left, theirs[0]) and np.array_equal(right, theirs[1])


def test_a_long_recording_is_decoded_in_groups_with_the_same_samples(tmp_path: Path) -> None:
    # Over GROUP_SAMPLES, so the resampler gets more than one group (and a 44.1 kHz file, so it
    # really resamples).
    import av

    path = tmp_path / "long.flac"
    tone = (np.sin(np.arange(44_100 * 40) / 7.0) * 8000).astype(np.int16)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("flac", rate=44_100, layout="mono")
        for start in range(0, len(tone), 4096):
            frame = av.AudioFrame.from_ndarray(tone[None, start : start + 4096], "s16", "mono")
            frame.rate = 44_100
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    (ours,) = decode(path)
    assert len(ours) == pytest.approx(40 * 16_000, abs=32)
    assert np.array_equal(ours, decode_audio(str(path)))
