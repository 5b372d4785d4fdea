"""The language a split run decodes its parts in is the one the whole batched run detects: on
a recording whose first seconds (JFK, with pauses) and first 30 s of speech (JFK, then German)
read differently, against faster-whisper's own `BatchedInferencePipeline` in the same run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.contract.jobs import JobOptions
from tests.conftest import DATA, JFK
from worker.decoding.engine import EngineConfig, WhisperEngine

pytestmark = pytest.mark.model  # loads the real Whisper weights


@pytest.mark.parametrize("vad_min_silence_ms", [None, 500])
def test_a_batched_jobs_language_is_the_pipelines(
    models_dir: Path, vad_min_silence_ms: int | None
) -> None:
    from faster_whisper import BatchedInferencePipeline, decode_audio

    clips = [decode_audio(str(p)) for p in (JFK, DATA / "de.wav", DATA / "fr.wav")]
    audio = np.concatenate(clips * 2)
    options = JobOptions(vad_min_silence_ms=vad_min_silence_ms)
    engine = WhisperEngine(EngineConfig(models_dir=models_dir))
    detected = engine.detect_language(audio, options, batched=True)
    with engine.models.use("base") as model:
        vad = {"min_silence_duration_ms": vad_min_silence_ms} if vad_min_silence_ms else None
        _, info = BatchedInferencePipeline(model).transcribe(
            audio, vad_filter=True, vad_parameters=vad
        )
    assert detected.language == info.language
    assert detected.language_probability == pytest.approx(info.language_probability, abs=1e-6)
    assert [lang for lang, _ in detected.all_language_probs[:5]] == [
        lang for lang, _ in info.all_language_probs[:5]
    ]
