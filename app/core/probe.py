"""A cheap look into an upload's container at submit time (PyAV, the decoder faster-whisper uses).

Only headers are read, no audio is decoded: it tells a non-audio file (415) from audio, and gives
the duration when the container declares one. Damage beyond the headers is found by the worker.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import av

from app.contract.errors import UnsupportedMedia


@dataclass(frozen=True)
class ProbeResult:
    duration: float | None
    channels: int


def probe(source: Path | BinaryIO) -> ProbeResult:
    """`source`: a file, or an open upload (read from where it stands; left wherever the probe
    stopped reading)."""
    try:
        # A small probe: headers only (measured: 0.5 ms instead of 2.2 ms on a short WAV).
        container = av.open(
            str(source) if isinstance(source, Path) else source,
            mode="r",
            metadata_errors="ignore",
            options={"probesize": "4096", "analyzeduration": "0"},
        )
    except Exception as e:
        raise UnsupportedMedia("The file is not an audio or video format FFmpeg can read.") from e
    with container:
        if not container.streams.audio:
            raise UnsupportedMedia("The file has no audio stream.")
        stream = container.streams.audio[0]
        duration = None
        if container.duration:
            duration = container.duration / 1_000_000  # av.time_base: microseconds
        elif stream.duration and stream.time_base:
            duration = float(stream.duration * stream.time_base)
        return ProbeResult(duration=duration, channels=int(stream.codec_context.channels or 0))
