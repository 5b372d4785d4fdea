"""`run_job` against the real store; the engine is replaced at the `Transcriber` seam we own."""

from pathlib import Path

import pytest

from app.contract.errors import InvalidAudio
from app.contract.jobs import (
    Job,
    JobOptions,
    JobStatus,
    Segment,
    TranscriptResult,
    new_job_id,
    utcnow,
)
from app.core.uploads import LocalUploads
from app.storage.store import JobStore
from worker.decoding.engine import SegmentCallback, StepCallback
from worker.runner import run_job

RESULT = TranscriptResult(
    model="base",
    language="en",
    language_probability=0.99,
    duration=4.0,
    text="one two",
    segments=[
        Segment(
            id=0,
            start=0.0,
            end=2.0,
            text=" one",
            avg_logprob=-0.1,
            no_speech_prob=0.0,
            compression_ratio=1.0,
        ),
        Segment(
            id=1,
            start=2.0,
            end=4.0,
            text=" two",
            avg_logprob=-0.1,
            no_speech_prob=0.0,
            compression_ratio=1.0,
        ),
    ],
)


class ScriptedTranscriber:
    """Reports progress like the engine does, then returns RESULT or raises `error`."""

    def __init__(self, error: Exception | None = None, before_last: object = None) -> None:
        self.error = error
        self.before_last = before_last
        self.calls = 0

    def transcribe(
        self,
        audio_path: Path,
        options: JobOptions,
        on_segment: SegmentCallback,
        on_step: StepCallback | None = None,
    ) -> TranscriptResult:
        self.calls += 1
        assert audio_path.exists()
        on_segment(RESULT.segments[0], 0.5)
        if callable(self.before_last):
            self.before_last()
        on_segment(RESULT.segments[1], 1.0)
        if self.error is not None:
            raise self.error
        return RESULT


@pytest.fixture
def queued(store: JobStore, tmp_path: Path) -> tuple[Job, Path]:
    job = Job(id=new_job_id(), status=JobStatus.QUEUED, created_at=utcnow(), options=JobOptions())
    store.create(job)
    audio = tmp_path / job.id
    audio.write_bytes(b"audio")
    return job, audio


def test_completes_and_removes_the_upload(store: JobStore, queued: tuple[Job, Path]) -> None:
    job, audio = queued
    run_job(job.id, store, ScriptedTranscriber(), LocalUploads(audio.parent))
    done = store.get(job.id)
    assert done is not None
    assert done.status is JobStatus.COMPLETED
    assert done.result == RESULT
    assert done.progress == 1.0
    assert not audio.exists()


def test_domain_error_fails_the_job_with_its_code(store: JobStore, queued: tuple[Job, Path]):
    job, audio = queued
    run_job(
        job.id, store, ScriptedTranscriber(InvalidAudio("bad bytes")), LocalUploads(audio.parent)
    )
    failed = store.get(job.id)
    assert failed is not None and failed.status is JobStatus.FAILED
    assert failed.error is not None
    assert (failed.error.code, failed.error.message) == ("invalid_audio", "bad bytes")
    assert not audio.exists()


def test_unexpected_error_fails_without_leaking_details(store: JobStore, queued):
    job, audio = queued
    run_job(
        job.id,
        store,
        ScriptedTranscriber(RuntimeError("secret internals")),
        LocalUploads(audio.parent),
    )
    failed = store.get(job.id)
    assert failed is not None and failed.error is not None
    assert failed.error.code == "internal_error"
    assert "secret" not in failed.error.message


def test_cancel_while_running_stops_at_the_next_segment(store: JobStore, queued):
    job, audio = queued
    transcriber = ScriptedTranscriber(before_last=lambda: store.mark_canceled(job.id))
    run_job(job.id, store, transcriber, LocalUploads(audio.parent))
    canceled = store.get(job.id)
    assert canceled is not None
    assert canceled.status is JobStatus.CANCELED
    assert canceled.result is None
    assert canceled.progress == 0.5
    assert store.partial_segments(job.id) == []  # cleared at the terminal transition
    assert not audio.exists()


def test_a_job_that_already_ended_is_skipped(store: JobStore, queued):
    job, audio = queued
    store.mark_canceled(job.id)
    transcriber = ScriptedTranscriber()
    run_job(job.id, store, transcriber, LocalUploads(audio.parent))
    assert transcriber.calls == 0
    assert store.get(job.id).status is JobStatus.CANCELED
    assert not audio.exists()


def test_redelivery_after_completion_does_nothing(store: JobStore, queued):
    job, audio = queued
    run_job(job.id, store, ScriptedTranscriber(), LocalUploads(audio.parent))
    first = store.get(job.id)
    transcriber = ScriptedTranscriber()
    run_job(job.id, store, transcriber, LocalUploads(audio.parent))
    assert transcriber.calls == 0
    assert store.get(job.id) == first


def test_unknown_job_is_skipped(store: JobStore, tmp_path: Path):
    transcriber = ScriptedTranscriber()
    run_job("missing", store, transcriber, LocalUploads(tmp_path))
    assert transcriber.calls == 0


def test_every_engine_setting_reaches_the_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`engine_config` is the one place settings become the engine's configuration: each field
    of `EngineConfig` follows its setting (a field left at its own default would not)."""
    import dataclasses

    from app.core.config import Settings, get_settings
    from worker.decoding.engine import EngineConfig

    # Importing the tasks configures the Celery app from the settings: a Redis URL is needed
    # (nothing connects to it), and the cached settings are dropped afterwards.
    monkeypatch.setenv("WHISPER_JOBS_REDIS_URL", "redis://127.0.0.1:1/0")
    get_settings.cache_clear()
    try:
        from worker.tasks import engine_config
    finally:
        get_settings.cache_clear()

    settings = Settings(
        data_dir=tmp_path,
        device="cpu",
        compute_type="int8",
        cpu_threads=3,
        max_loaded_models=3,
        model_idle_seconds=5,
        batch_size=4,
        batch_min_seconds=30,
        max_audio_seconds=100,
        batch_jobs=2,
        batch_wait_ms=10,
        model_replicas=2,
    )
    made, defaults = engine_config(settings), EngineConfig(models_dir=Path("elsewhere"))
    unchanged = [
        f.name
        for f in dataclasses.fields(EngineConfig)
        if getattr(made, f.name) == getattr(defaults, f.name)
    ]
    assert unchanged == []
    assert made.models_dir == settings.models_dir and made.batch_wait_seconds == 0.01
