"""The language faster-whisper's batched pipeline would detect for a whole recording, for a run
that decodes it in parts (`worker.split_jobs`): each part must be decoded in the whole run's
language, and a part cannot detect it itself.

The pipeline does not detect on the recording's first 30 s, as `WhisperModel.transcribe` does,
but on the first 30 s of its chunks (VAD's speech, merged up to 30 s), each chunk's features
less their last frame, with one dummy frame after them. Detected on the first 30 s of audio
instead, a 10-min recording of JFK, German and French got the whole run's language with another
probability (0.63 against 0.83), which the job's result reports; on other audio the language
itself can differ, and every part's words with it. No model call here: `detect_language` is
the model's.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: The pipeline's chunks (its `chunk_length`), and its VAD setting when a job sets none.
CHUNK_SECONDS = 30
DEFAULT_VAD = {"min_silence_duration_ms": 160}


def language_features(
    audio: np.ndarray, vad_parameters: dict[str, Any] | None, feature_extractor: Any, n_mels: int
) -> np.ndarray:
    """The features `BatchedInferencePipeline.transcribe` detects the language on (as far as
    one detection window reads them: `nb_max_frames`)."""
    from faster_whisper.vad import VadOptions, collect_chunks, get_speech_timestamps

    params = {**(vad_parameters or DEFAULT_VAD), "max_speech_duration_s": CHUNK_SECONDS}
    speech = get_speech_timestamps(audio, VadOptions(**params))
    features: list[np.ndarray] = []
    if speech:
        chunks, _ = collect_chunks(audio, speech, max_duration=CHUNK_SECONDS)
        frames = 0
        for chunk in chunks:  # the first window's worth only: the rest is never read
            features.append(feature_extractor(chunk)[..., :-1])
            frames += features[-1].shape[-1]
            if frames > feature_extractor.nb_max_frames:
                break
    dummy = np.full((n_mels, 1), -1.5, dtype="float32")  # the pipeline's, for empty audio
    return np.concatenate([*features, dummy], axis=1)
