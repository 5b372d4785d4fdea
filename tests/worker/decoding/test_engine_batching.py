"""Jobs decoded together by one engine (WHISPER_JOBS_BATCH_JOBS over 1), on real audio with the
bundled base model: each job's result is faster-whisper's for that recording alone, computed in
the same run, and the jobs' model calls were really merged."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from app.contract.errors import JobCanceled
from app.contract.jobs import JobOptions, Segment, TranscriptResult
from tests.conftest import DATA, JFK
from tests.transcripts import normalize, reference, wer
from worker.decoding.batching import GPU_MERGED, BatchingWhisper
from worker.decoding.engine import EngineConfig, WhisperEngine

pytestmark = pytest.mark.model  # loads the real Whisper weights

GREEDY = (0.0,)  # the default fallback to sampling would make words vary between runs
JOBS = [
    (JFK, JobOptions(temperature=GREEDY), {}),
    (DATA / "de.wav", JobOptions(temperature=GREEDY), {}),
    (DATA / "fr.wav", JobOptions(temperature=GREEDY), {}),
    (DATA / "fr.wav", JobOptions(temperature=GREEDY, task="translate"), {"task": "translate"}),
    (
        JFK,
        JobOptions(temperature=GREEDY, language="en", word_timestamps=True),
        {"language": "en", "word_timestamps": True},
    ),
]


@pytest.fixture(scope="module")
def engine(models_dir: Path) -> WhisperEngine:
    return WhisperEngine(
        EngineConfig(
            models_dir=models_dir,
            device="cpu",
            cpu_threads=1,
            model_replicas=2,
            batch_jobs=len(JOBS),
            batch_wait_seconds=0.5,
        )
    )


def together(engine: WhisperEngine, jobs: list[tuple[Path, JobOptions]]) -> list[TranscriptResult]:
    start = threading.Barrier(len(jobs))

    def run(job: tuple[Path, JobOptions]) -> TranscriptResult:
        start.wait()
        return engine.transcribe(job[0], job[1], lambda *_: None)

    with ThreadPoolExecutor(len(jobs)) as pool:
        return list(pool.map(run, jobs))


def test_each_job_decoded_together_gets_what_the_library_gives_it_alone(
    engine: WhisperEngine, models_dir: Path
) -> None:
    results = together(engine, [(path, options) for path, options, _ in JOBS])
    gate = engine.models.get("base").model
    assert isinstance(gate, BatchingWhisper)
    assert any(method == "generate" and rows > 1 for method, rows in gate.calls), gate.calls

    expected = [
        reference(models_dir, "base", path, temperature=[0.0], **kw) for path, _, kw in JOBS
    ]
    # Fidelity over the set: the same words as faster-whisper for each recording alone.
    ours = " ".join(r.text for r in results)
    theirs = " ".join(e.text for e in expected)
    assert wer(theirs, ours) <= 0.01, (theirs, ours)
    for result, exp in zip(results, expected, strict=True):
        assert result.language == exp.language
        assert normalize(result.text) == normalize(exp.text) or wer(exp.text, result.text) < 0.1
    words = [w.word for s in results[4].segments for w in s.words or []]
    assert words == expected[4].words
    # Detected by faster-whisper itself, on its own input: the same language and probability.
    for result, exp in zip(results[:3], expected[:3], strict=True):
        assert result.language_probability == round(exp.language_probability, 4)
        assert result.language_probabilities[0].language == exp.language
    assert results[4].language_probability == 1.0  # given, not detected


def test_a_canceled_job_leaves_the_others_decoding(engine: WhisperEngine, models_dir: Path):
    def cancel_at_first_segment(_: Segment, __: float) -> None:
        raise JobCanceled("canceled")

    start = threading.Barrier(3)

    def run(index: int) -> TranscriptResult | str:
        start.wait()
        try:
            callback = cancel_at_first_segment if index == 0 else (lambda *_: None)
            return engine.transcribe(JFK, JobOptions(temperature=GREEDY), callback)
        except JobCanceled:
            return "canceled"

    with ThreadPoolExecutor(3) as pool:
        outcomes = list(pool.map(run, range(3)))
    assert outcomes[0] == "canceled"
    expected = reference(models_dir, "base", JFK, temperature=[0.0])
    for result in outcomes[1:]:
        assert isinstance(result, TranscriptResult)
        assert wer(expected.text, result.text) <= 0.01


def test_what_a_gpu_merges_as_well_keeps_each_jobs_result(models_dir: Path) -> None:
    """On a GPU the encoder's and language detection's calls are merged too (no GPU here: the
    same code on the CPU, where it is merely slower), each job getting its own rows back."""
    engine = WhisperEngine(
        EngineConfig(
            models_dir=models_dir,
            device="cpu",
            cpu_threads=1,
            model_replicas=1,
            batch_jobs=3,
            batch_wait_seconds=0.5,
        )
    )
    gate = engine.models.get("base").model
    gate.merged = GPU_MERGED
    files = [JFK, DATA / "de.wav", DATA / "fr.wav"]
    results = together(engine, [(f, JobOptions(temperature=GREEDY)) for f in files])
    assert any(m == "encode" and rows > 1 for m, rows in gate.calls), gate.calls
    assert any(m == "detect_language" and rows > 1 for m, rows in gate.calls), gate.calls
    expected = [reference(models_dir, "base", f, temperature=[0.0]) for f in files]
    assert wer(" ".join(e.text for e in expected), " ".join(r.text for r in results)) <= 0.01
    assert [r.language for r in results] == [e.language for e in expected]


@pytest.mark.parametrize(("device", "warned"), [("cuda", True), ("cpu", False)])
def test_decoding_jobs_together_on_a_gpu_is_warned_about(
    models_dir: Path, caplog: pytest.LogCaptureFixture, device: str, warned: bool
) -> None:
    # Measured on an H200 (BENCHMARKS.md): merged calls changed transcripts there. Nothing is
    # loaded here: the warning comes as the engine is built.
    with caplog.at_level(logging.WARNING, logger="worker.decoding.engine"):
        WhisperEngine(EngineConfig(models_dir=models_dir, device=device, batch_jobs=4))
    messages = [r.getMessage() for r in caplog.records if r.name == "worker.decoding.engine"]
    assert any("BATCH_JOBS=4 on a GPU" in m for m in messages) is warned, messages
