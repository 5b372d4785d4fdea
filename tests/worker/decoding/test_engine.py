"""The engine alone, on real audio with the bundled base model (no Redis, no Celery)."""

from pathlib import Path

import pytest

from app.contract.errors import InvalidAudio, JobCanceled
from app.contract.jobs import JobOptions
from tests.conftest import DATA, JFK, JFK_TEXT
from tests.transcripts import reference, wer
from worker.decoding.engine import EngineConfig, WhisperEngine

pytestmark = pytest.mark.model  # loads the real Whisper weights


@pytest.fixture(scope="module")
def engine(models_dir: Path) -> WhisperEngine:
    return WhisperEngine(EngineConfig(models_dir=models_dir))


def test_jfk_with_base(engine: WhisperEngine, models_dir: Path) -> None:
    seen: list[tuple[int, float]] = []
    result = engine.transcribe(JFK, JobOptions(), lambda s, p: seen.append((s.id, p)))
    expected = reference(models_dir, "base", JFK)  # faster-whisper's defaults = JobOptions()
    assert [s.text for s in result.segments] == expected.texts  # fidelity
    assert result.text == expected.text
    assert [(s.start, s.end) for s in result.segments] == expected.spans_within(result.duration)
    assert result.language == expected.language == "en"
    assert result.language_probability == expected.language_probability > 0.9
    assert wer(JFK_TEXT, result.text) <= 0.1  # content
    assert result.model == "base"
    assert result.duration == 11.0
    assert result.segments[0].start == 0.0 and 10.0 <= result.segments[-1].end <= 11.0
    assert all(s.words is None for s in result.segments)
    assert seen[-1] == (len(result.segments) - 1, 1.0)
    assert result.batched is False
    assert result.language_probabilities[0].language == "en"
    assert len(result.language_probabilities) == 5


def test_word_timestamps_are_ordered_and_inside_the_audio(
    engine: WhisperEngine, models_dir: Path
) -> None:
    result = engine.transcribe(
        JFK, JobOptions(word_timestamps=True, language="en"), lambda *_: None
    )
    words = [w for s in result.segments for w in (s.words or [])]
    expected = reference(models_dir, "base", JFK, language="en", word_timestamps=True)
    assert [w.word for w in words] == expected.words
    assert wer(JFK_TEXT, "".join(w.word for w in words)) <= 0.1
    assert all(0.0 <= w.start <= w.end <= 11.0 for w in words)
    assert all(a.start <= b.start for a, b in zip(words, words[1:], strict=False))
    assert result.language_probability == 1.0  # given, not detected


def test_model_is_loaded_once_and_reused(engine: WhisperEngine) -> None:
    engine.transcribe(JFK, JobOptions(), lambda *_: None)
    loads = engine.models.loads
    engine.transcribe(JFK, JobOptions(), lambda *_: None)
    assert engine.models.loads == loads


def test_silence_has_no_segments(engine: WhisperEngine) -> None:
    result = engine.transcribe(DATA / "silence.wav", JobOptions(), lambda *_: None)
    assert result.segments == []
    assert result.text == ""
    assert result.duration == 5.0
    assert result.language is None


def test_not_audio_is_invalid_audio(engine: WhisperEngine, tmp_path: Path) -> None:
    bogus = tmp_path / "notes.txt"
    bogus.write_bytes(b"this is a text file, not a recording\n" * 50)
    with pytest.raises(InvalidAudio, match="no audio stream|could not be decoded") as info:
        engine.transcribe(bogus, JobOptions(), lambda *_: None)
    assert str(tmp_path) not in info.value.message  # no server paths in messages


def test_truncated_audio_is_invalid_audio(engine: WhisperEngine, tmp_path: Path) -> None:
    head = tmp_path / "head.flac"
    head.write_bytes(JFK.read_bytes()[:200])
    with pytest.raises(InvalidAudio):
        engine.transcribe(head, JobOptions(), lambda *_: None)


def test_progress_callback_can_stop_the_work(engine: WhisperEngine) -> None:
    def cancel(*_: object) -> None:
        raise JobCanceled("stop")

    with pytest.raises(JobCanceled):
        engine.transcribe(JFK, JobOptions(), cancel)


def test_a_cancel_stops_at_the_end_of_the_window_being_decoded(
    engine: WhisperEngine, tmp_path: Path
) -> None:
    """44 s of speech is two 30-s windows: a cancel seen at the first segment stops the work
    before the second window is decoded (not after the whole file, as the README once implied)."""
    import wave

    import numpy as np
    from faster_whisper import decode_audio

    path = tmp_path / "jfk-x4.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16_000)
        samples = np.tile(decode_audio(str(JFK)), 4)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    seen: list[float] = []

    def cancel_at_first_segment(segment, _progress) -> None:  # type: ignore[no-untyped-def]
        seen.append(segment.end)
        raise JobCanceled("canceled")

    options = JobOptions(temperature=(0.0,), batched="false")
    with pytest.raises(JobCanceled):
        engine.transcribe(path, options, cancel_at_first_segment)
    assert len(seen) == 1 and seen[0] <= 30.0  # a segment of the first window, and no more


@pytest.mark.parametrize("vad_filter", [False, True])
def test_detect_language_alone_is_the_librarys_and_transcribes_nothing(
    engine: WhisperEngine, vad_filter: bool
) -> None:
    from faster_whisper import decode_audio

    options = JobOptions(task="detect_language", vad_filter=vad_filter)
    result = engine.transcribe(DATA / "de.wav", options, lambda s, p: None)
    with engine.models.use("base") as model:
        language, probability, ranked = model.detect_language(
            audio=decode_audio(str(DATA / "de.wav")), vad_filter=vad_filter
        )
    assert (result.language, result.language_probability) == (language, round(probability, 4))
    assert [p.language for p in result.language_probabilities] == [lang for lang, _ in ranked[:5]]
    assert result.language == "de"  # what espeak-ng said
    assert result.text == "" and result.segments == [] and result.task == "detect_language"
