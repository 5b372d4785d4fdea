"""The batched path (the default above 60 s) on 3 minutes of speech: sentence-sized segments
with the library's own words, segments that arrive while the job runs, and a cancel that stops
at the next step. Real model, real audio (`tests/data/story.txt` read by espeak-ng, JFK between
its paragraphs); texts judged by fidelity and WER (`tests.transcripts`)."""

import statistics
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.contract.errors import JobCanceled
from app.contract.jobs import JobOptions, Segment
from tests.conftest import DATA, JFK
from tests.transcripts import reference, wer
from worker.decoding import batched_steps
from worker.decoding.audio import write_wav
from worker.decoding.batched_steps import StepSizer
from worker.decoding.engine import EngineConfig, WhisperEngine
from worker.decoding.sentences import MAX_SECONDS

pytestmark = pytest.mark.model

GREEDY = JobOptions(temperature=(0.0,), batched="true")


@pytest.fixture(scope="module")
def three_minutes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from faster_whisper import decode_audio

    work = tmp_path_factory.mktemp("three-minutes")
    story = work / "story.wav"
    subprocess.run(
        ["espeak-ng", "-s", "165", "-w", str(story), "-f", str(DATA / "story.txt")], check=True
    )
    speech, jfk = decode_audio(str(story)), decode_audio(str(JFK))
    pause = np.zeros(8000, dtype=np.float32)
    quarter = len(speech) // 4
    pieces = [p for i in range(4) for p in (speech[i * quarter : (i + 1) * quarter], pause, jfk)]
    return write_wav(work / "three-minutes.wav", np.concatenate(pieces))


@pytest.fixture(scope="module")
def engine(models_dir: Path) -> WhisperEngine:
    return WhisperEngine(EngineConfig(models_dir=models_dir))


class Steps:
    """Counts the pipeline's steps (model calls per group of chunks) as they happen."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        forward = batched_steps.SteppedPipeline.forward

        def counted(pipeline: Any, *args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return forward(pipeline, *args, **kwargs)

        monkeypatch.setattr(batched_steps.SteppedPipeline, "forward", counted)


def test_segments_are_sentence_sized_and_the_words_are_the_librarys(
    engine: WhisperEngine, models_dir: Path, three_minutes: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    steps, seen_at_step = Steps(monkeypatch), []

    def on_segment(segment: Segment, progress: float) -> None:
        seen_at_step.append(steps.count)

    result = engine.transcribe(three_minutes, GREEDY, on_segment)
    assert result.batched and result.duration > 160
    library = reference(models_dir, "base", three_minutes, batch_size=8, temperature=[0.0])
    assert len(library.texts) <= 9 and max(e - s for s, e in library.spans) > 20  # its shape
    assert wer(library.text, result.text) <= 0.01
    lengths = [s.end - s.start for s in result.segments]
    assert max(lengths) <= 30.0
    assert all(
        s.end - s.start <= MAX_SECONDS or len(s.text.split()) == 1 or s.text.rstrip()[-1] in ".?!"
        for s in result.segments
    )
    sequential = reference(models_dir, "base", three_minutes, temperature=[0.0])
    assert statistics.median(lengths) <= 1.5 * statistics.median(e - s for s, e in sequential.spans)
    assert [s.id for s in result.segments] == list(range(len(result.segments)))
    assert all(s.words is None for s in result.segments)  # aligned, but not asked for
    # Live: the first segments came out after the first step, before the last one.
    assert seen_at_step[0] == 1 and steps.count >= 2 and seen_at_step[-1] == steps.count


def test_a_cancel_stops_the_job_at_the_next_step(
    engine: WhisperEngine, three_minutes: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    steps = Steps(monkeypatch)

    def cancel(segment: Segment, progress: float) -> None:
        raise JobCanceled("canceled")

    with pytest.raises(JobCanceled):
        engine.transcribe(three_minutes, GREEDY, cancel)
    assert steps.count == 1


def test_words_asked_for_are_kept_in_their_sentences(
    engine: WhisperEngine, three_minutes: Path
) -> None:
    options = JobOptions(temperature=(0.0,), batched="true", word_timestamps=True)
    result = engine.transcribe(three_minutes, options, lambda *_: None)
    for segment in result.segments:
        assert segment.words and "".join(w.word for w in segment.words) == segment.text
        assert segment.start <= segment.words[0].start + 0.5
        assert segment.words[-1].end <= segment.end + 0.5


def test_steps_grow_to_what_fits_a_few_seconds_and_absorb_a_small_remainder() -> None:
    sizer = StepSizer(most=8, seconds=5.0)
    assert sizer.next(left=20) == 2  # speed unknown: a small first step
    sizer.observe(2, 2.0)  # 1 s a chunk
    assert sizer.next(left=18) == 5
    assert sizer.next(left=7) == 7  # 5, then 2 alone: one step of 7
    sizer.observe(5, 0.05)  # a GPU: the whole batch
    assert sizer.next(left=100) == 8
    sizer.observe(1, 60.0)  # a slow model: one chunk at a time
    assert sizer.next(left=3) == 1
    assert StepSizer(most=8).next(left=1) == 1


def test_parts_cut_between_the_chunks_decode_as_the_whole(
    engine: WhisperEngine, three_minutes: Path, tmp_path: Path
) -> None:
    """What a split job's parts are (`worker.split_cuts.chunk_cuts`), decoded one by one: their
    words are the whole run's (goal: within 2 % WER on any CPU; `make test-isa` runs this under
    another instruction set)."""
    from faster_whisper import decode_audio

    from worker.split_cuts import chunk_cuts

    audio = decode_audio(str(three_minutes))
    bounds = [0, *chunk_cuts(audio, 60.0, None), len(audio)]
    assert len(bounds) >= 4  # three parts or more
    texts = []
    for i, (start, end) in enumerate(zip(bounds, bounds[1:], strict=False)):
        part = write_wav(tmp_path / f"part-{i}.wav", audio[start:end])
        texts.append(engine.transcribe(part, GREEDY, lambda *_: None).text)
    whole = engine.transcribe(three_minutes, GREEDY, lambda *_: None)
    assert wer(whole.text, " ".join(texts)) <= 0.02
