"""Decoding uploads to the 16 kHz mono float32 samples Whisper takes (and writing them back).

Like faster-whisper's `decode_audio` (same grouping and resampling, invalid frames skipped), but
it counts the samples as it decodes and stops past the duration cap: a small file that expands
to hours of audio (a "duration bomb") fails with `audio_too_long` instead of filling memory.
"""

from __future__ import annotations

import gc
import itertools
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from app.contract.errors import AudioTooLong, InvalidAudio

SAMPLE_RATE = 16_000
# Decoded samples handed to the resampler at once, as faster-whisper groups them: frame by frame
# (a WAV's frames hold a few thousand samples) decoding took 3x as long (0.35 s against 0.12 s
# for 3 minutes), for the same samples.
GROUP_SAMPLES = 500_000
# Below this peak amplitude (-60 dBFS) a track is silence: Whisper would hallucinate text on it
# (" ..." segments, even past the end of the audio), so it is not run through the model.
SILENCE_PEAK = 1e-3


def _reason(e: Exception) -> str:
    # FFmpeg's reason, never the server-side path that PyAV puts in its messages.
    return str(getattr(e, "strerror", None) or type(e).__name__)


def channel_count(audio_path: Path) -> int:
    import av

    try:
        with av.open(str(audio_path)) as container:
            if not container.streams.audio:
                raise InvalidAudio("The file has no audio stream.")
            return int(container.streams.audio[0].codec_context.channels)
    except InvalidAudio:
        raise
    except Exception as e:
        raise InvalidAudio(f"The file could not be decoded as audio ({_reason(e)}).") from e


def _valid_frames(frames: Iterator[Any]) -> Iterator[Any]:
    import av

    while True:
        try:
            yield next(frames)
        except StopIteration:
            return
        except av.error.InvalidDataError:
            continue  # a damaged frame: skip it, as faster-whisper does


def _grouped(frames: Iterator[Any]) -> Iterator[Any]:
    """Consecutive frames joined into frames of about `GROUP_SAMPLES` samples each."""
    import av

    fifo = av.audio.fifo.AudioFifo()
    for frame in frames:
        frame.pts = None  # no timestamp check: damaged files have gaps
        fifo.write(frame)
        if fifo.samples >= GROUP_SAMPLES:
            yield fifo.read()
    if fifo.samples > 0:
        yield fifo.read()


def _pcm_chunks(audio_path: Path, channels: int, max_samples: int) -> Iterator[np.ndarray]:
    import av

    resampler = av.audio.resampler.AudioResampler(
        format="s16", layout="stereo" if channels == 2 else "mono", rate=SAMPLE_RATE
    )
    decoded = 0
    with av.open(str(audio_path), mode="r", metadata_errors="ignore") as container:
        if not container.streams.audio:
            raise InvalidAudio("The file has no audio stream.")
        frames = _grouped(_valid_frames(iter(container.decode(audio=0))))
        for frame in itertools.chain(frames, [None]):  # None flushes the resampler
            for out in resampler.resample(frame):
                pcm = out.to_ndarray().reshape(-1)
                decoded += len(pcm) // channels
                if decoded > max_samples:
                    raise AudioTooLong(
                        f"The audio is longer than the limit of {max_samples // SAMPLE_RATE} s."
                    )
                yield pcm
    del resampler
    gc.collect()  # PyAV's resampler holds memory until collected (faster-whisper issue 390)


def decode(audio_path: Path, *, split: bool = False, max_seconds: float = 4 * 3600) -> list[Any]:
    """One array (mixed to mono) or, with `split`, one per channel of a stereo file."""
    if split and (channels := channel_count(audio_path)) != 2:
        raise InvalidAudio(f"channels=split needs a stereo recording; this one has {channels}.")
    max_samples = int(max_seconds * SAMPLE_RATE)
    try:
        pcm = np.concatenate(
            list(_pcm_chunks(audio_path, 2 if split else 1, max_samples))
            or [np.zeros(0, dtype=np.int16)]
        )
    except (InvalidAudio, AudioTooLong):
        raise
    except Exception as e:
        # PyAV raises a family of FFmpeg errors (and sometimes ValueError/IndexError) for input
        # that is not audio; whichever it is, the caller's file is at fault, not the worker.
        raise InvalidAudio(f"The file could not be decoded as audio ({_reason(e)}).") from e
    audio = pcm.astype(np.float32) / 32768.0
    tracks = [audio[0::2], audio[1::2]] if split else [audio]
    if len(tracks[0]) == 0:
        raise InvalidAudio("The file contains no audio samples.")
    return tracks


def write_wav(path: Path, samples: np.ndarray) -> Path:
    """Samples as a 16-bit mono WAV file at `SAMPLE_RATE` (a long job's parts)."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def is_silent(audio: Any) -> bool:
    return float(abs(audio).max()) < SILENCE_PEAK
