"""Decoding uploads to the 16 kHz mono float32 samples Whisper takes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.errors import InvalidAudio

SAMPLE_RATE = 16_000
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


def decode(audio_path: Path, *, split: bool = False) -> list[Any]:
    """One array (mixed to mono) or, with `split`, one per channel of a stereo file."""
    from faster_whisper import decode_audio

    if split and (channels := channel_count(audio_path)) != 2:
        raise InvalidAudio(f"channels=split needs a stereo recording; this one has {channels}.")
    try:
        decoded = decode_audio(str(audio_path), sampling_rate=SAMPLE_RATE, split_stereo=split)
    except Exception as e:
        # PyAV raises a family of FFmpeg errors (and sometimes ValueError/IndexError) for input
        # that is not audio; whichever it is, the caller's file is at fault, not the worker.
        raise InvalidAudio(f"The file could not be decoded as audio ({_reason(e)}).") from e
    tracks = list(decoded) if split else [decoded]
    if len(tracks[0]) == 0:
        raise InvalidAudio("The file contains no audio samples.")
    return tracks


def is_silent(audio: Any) -> bool:
    return float(abs(audio).max()) < SILENCE_PEAK
