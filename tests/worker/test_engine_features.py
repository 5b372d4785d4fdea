"""Whisper's capabilities through the engine, on real audio with the bundled models.

Expected texts are what `base` (int8, CPU) really produces on the committed espeak-ng files
(synthetic voices: a few words differ from the script, and that is asserted as it is).
"""

from pathlib import Path

import pytest

from app.jobs import JobOptions
from tests.conftest import DATA, JFK, JFK_TEXT
from worker.engine import EngineConfig, WhisperEngine
from worker.models import ModelCache


def quiet(*_: object) -> None:
    return None


@pytest.fixture(scope="module")
def engine(models_dir: Path) -> WhisperEngine:
    return WhisperEngine(EngineConfig(models_dir=models_dir))


@pytest.mark.parametrize(
    ("name", "language", "text"),
    [
        ("de.wav", "de",
         " Guten Morgen. Heute ist das Meter mehr schön, und wir gehen zum Ammen in den Park."),
        ("fr.wav", "fr", " Bonjour à tous ! Je voudrais un café à croissance si vous pliez !"),
    ],
)  # fmt: skip
def test_language_detection(engine: WhisperEngine, name: str, language: str, text: str) -> None:
    result = engine.transcribe(DATA / name, JobOptions(), quiet)
    assert result.language == language
    assert 0.5 < result.language_probability <= 1.0
    assert result.language_probabilities[0].language == language
    probabilities = [p.probability for p in result.language_probabilities]
    assert probabilities == sorted(probabilities, reverse=True) and len(probabilities) == 5
    assert [s.text for s in result.segments] == [text]


@pytest.mark.parametrize(
    ("name", "english"),
    [
        ("de.wav",
         " Good morning, today is the first day of the day, and there is a place in the park."),
        ("fr.wav", " Hello everyone! I'll give you a coffee and a glass of silver."),
    ],
)  # fmt: skip
def test_translate_to_english(engine: WhisperEngine, name: str, english: str) -> None:
    # Greedy only: the default fallback to sampling would make the words vary between runs.
    options = JobOptions(task="translate", temperature=(0.0,))
    result = engine.transcribe(DATA / name, options, quiet)
    assert result.task == "translate"
    assert [s.text for s in result.segments] == [english]


def test_split_channels_transcribes_each_side(engine: WhisperEngine) -> None:
    seen: list[int] = []
    result = engine.transcribe(
        DATA / "stereo.wav", JobOptions(channels="split"), lambda s, _: seen.append(s.channel)
    )
    by_channel = {ch: [s.text for s in result.segments if s.channel == ch] for ch in (0, 1)}
    assert by_channel == {0: [JFK_TEXT], 1: [" The quick brown fox jump over the lazy dog."]}
    assert [s.id for s in result.segments] == list(range(len(result.segments)))
    starts = [(s.start, s.channel) for s in result.segments]
    assert starts == sorted(starts)
    assert sorted(seen) == [0, 1]


def test_split_needs_stereo(engine: WhisperEngine) -> None:
    from app.errors import InvalidAudio

    with pytest.raises(InvalidAudio, match="stereo"):
        engine.transcribe(DATA / "de.wav", JobOptions(channels="split"), quiet)


@pytest.mark.parametrize("batched", ["true", "false"])
def test_batched_and_sequential_give_the_jfk_text(engine: WhisperEngine, batched: str) -> None:
    result = engine.transcribe(JFK, JobOptions(batched=batched), quiet)  # type: ignore[arg-type]
    assert result.batched is (batched == "true")
    assert [s.text for s in result.segments] == [JFK_TEXT]


def test_auto_batches_only_long_audio(models_dir: Path) -> None:
    engine = WhisperEngine(EngineConfig(models_dir=models_dir, batch_min_seconds=60))
    assert engine.use_batched(JobOptions(), 61.0)
    assert not engine.use_batched(JobOptions(), 59.0)
    assert not engine.use_batched(JobOptions(batched="false"), 600.0)
    assert engine.use_batched(JobOptions(batched="true"), 5.0)


def test_word_timestamps_are_monotonic_and_inside_their_segment(engine: WhisperEngine) -> None:
    options = JobOptions(word_timestamps=True, hallucination_silence_threshold=2.0)
    result = engine.transcribe(JFK, options, quiet)
    for segment in result.segments:
        assert segment.words
        assert all(segment.start <= w.start <= w.end <= segment.end for w in segment.words)
        starts = [w.start for w in segment.words]
        assert starts == sorted(starts)
    assert "".join(w.word for s in result.segments for w in s.words or []) == JFK_TEXT


def test_decoding_options_reach_the_model(engine: WhisperEngine) -> None:
    options = JobOptions(
        language="en", beam_size=1, best_of=1, temperature=(0.0,), patience=1.0,
        condition_on_previous_text=False, initial_prompt="Kennedy inaugural address.",
        hotwords="Americans", vad_filter=True, vad_threshold=0.4, vad_min_silence_ms=500,
        vad_speech_pad_ms=200, no_speech_threshold=0.5, log_prob_threshold=-1.5,
        compression_ratio_threshold=2.0,
    )  # fmt: skip
    result = engine.transcribe(JFK, options, quiet)
    # The prompt changes base's punctuation: proof the options reach the model.
    assert result.text == JFK_TEXT.strip().replace("Americans,", "Americans")
    assert result.language_probabilities == []  # given, not detected


def test_english_only_model(engine: WhisperEngine) -> None:
    result = engine.transcribe(JFK, JobOptions(model="tiny.en"), quiet)
    assert result.model == "tiny.en"
    assert result.language == "en"
    assert result.text.startswith("And so my fellow Americans")


def test_lru_evicts_the_least_recently_used_real_model(models_dir: Path) -> None:
    engine = WhisperEngine(EngineConfig(models_dir=models_dir, max_loaded_models=1))
    cache: ModelCache[object] = engine.models
    base = cache.get("base")
    assert cache.get("base") is base and cache.loads == 1
    cache.get("tiny.en")  # evicts base
    assert cache.loads == 2
    assert cache.get("base") is not base and cache.loads == 3
