"""The engine's seam for diarization: a job's options and audio in, speaker turns out.

Holds the speaker encoder once per process (loaded on first use: its weights are read and
verified, 17 MB). `Diarizer` is the one backend; another (pyannote, where a deployment has it)
replaces it by implementing `Diarization` (documented in docs/diarization.md).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol

import numpy as np

from app.contract.jobs import JobOptions
from worker.diarization.speaker_embeddings import SpeakerEncoder
from worker.diarization.speaker_turns import Turn, speaker_turns

DEFAULT_MAX_SPEAKERS = 8


class Diarization(Protocol):
    def turns(
        self, audio: np.ndarray, options: JobOptions, check: Callable[[float], None]
    ) -> list[Turn]: ...


class Diarizer:
    def __init__(self) -> None:
        self._encoder: SpeakerEncoder | None = None
        self._lock = threading.Lock()

    def encoder(self) -> SpeakerEncoder:
        with self._lock:
            if self._encoder is None:
                self._encoder = SpeakerEncoder()
            return self._encoder

    def turns(
        self, audio: np.ndarray, options: JobOptions, check: Callable[[float], None]
    ) -> list[Turn]:
        return speaker_turns(
            audio,
            self.encoder(),
            num_speakers=options.num_speakers,
            min_speakers=options.min_speakers or 1,
            max_speakers=options.max_speakers or DEFAULT_MAX_SPEAKERS,
            check=check,
        )
