"""Long jobs in parts: where the cuts go (synthetic audio), and a whole split run on the real
store with the real model, its parts run in this process, against faster-whisper's own run of
the whole recording (the workers' side and Celery: `tests/e2e/test_split.py`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.contract.jobs import Job, JobOptions, JobStatus, new_job_id, utcnow
from app.core.uploads import LocalUploads
from app.storage import stats
from app.storage.job_parts import PARTS_OWNER, Part, PartsPlan
from app.storage.keys import owner_jobs_key
from app.storage.kombu_layout import QueuedMessage
from app.storage.store import JobStore
from tests.transcripts import normalize, reference, wer
from worker import split_jobs
from worker.decoding.audio import SAMPLE_RATE, write_wav
from worker.decoding.engine import EngineConfig, WhisperEngine
from worker.runner import run_job
from worker.split_jobs import LongJobSplitter, SplitPolicy

SR = SAMPLE_RATE


def test_the_first_plan_of_a_job_holds(store: JobStore) -> None:
    first = PartsPlan([Part("a" * 32, 0.0, 10.0)], "en", 0.9, [("en", 0.9)])
    assert store.parts.plan("j" * 32, first) == first
    second = PartsPlan([Part("b" * 32, 0.0, 10.0)], "de", 0.5, [])
    assert store.parts.plan("j" * 32, second) == first  # a second run finds the first's parts


def _running(seconds: float) -> Job:
    return Job(
        id=new_job_id(),
        status=JobStatus.PROCESSING,
        created_at=utcnow(),
        options=JobOptions(),
        audio_seconds=seconds,
    )


def test_which_jobs_are_split() -> None:
    policy = SplitPolicy(min_seconds=60, part_seconds=30)
    job = _running(61)
    assert policy.applies(job, True)
    assert not policy.applies(job.model_copy(update={"audio_seconds": 59}), True)
    assert not policy.applies(job.model_copy(update={"owner": PARTS_OWNER}), True)  # a part itself
    assert not SplitPolicy(0, 30).applies(job, True)
    split = job.model_copy(update={"options": JobOptions(channels="split")})
    assert not policy.applies(split, True)


def test_with_no_settings_a_long_job_is_cut_only_when_more_than_one_call_is_live() -> None:
    live = {"base": 1}
    policy = SplitPolicy(None, None, lambda model: live.get(model, 0))
    job = _running(600)
    assert not policy.applies(job, True)  # one call: cutting would only cost
    live["base"] = 2
    assert policy.applies(job, True)
    assert policy.part_length(job) == 150  # two parts per live call
    live["base"] = 40
    assert policy.part_length(job) == split_jobs.MIN_PART_SECONDS
    short = job.model_copy(update={"audio_seconds": split_jobs.AUTO_MIN_SECONDS})
    assert not policy.applies(short, True)
    assert not policy.applies(job, False)  # decoded sequentially: a cut would change the words
    assert not policy.applies(job.model_copy(update={"options": JobOptions(model="tiny.en")}), True)
    assert SplitPolicy(60, None, lambda model: 1).applies(job, False)  # set: cut whatever is live
    assert SplitPolicy(60, 90, lambda model: 2).part_length(job) == 90


@pytest.fixture(scope="module")
def engine(models_dir: Path) -> WhisperEngine:
    return WhisperEngine(EngineConfig(models_dir=models_dir, device="cpu"))


def split_run(
    store: JobStore,
    engine: WhisperEngine,
    uploads: LocalUploads,
    audio: np.ndarray,
    part_seconds: float,
) -> Job:
    job = Job(
        id=new_job_id(),
        status=JobStatus.QUEUED,
        created_at=utcnow(),
        options=JobOptions(temperature=(0.0,)),
        audio_seconds=len(audio) / SR,
    )
    uploads.check()
    write_wav(uploads.path(job.id), audio)
    store.create(job)
    splitter = LongJobSplitter(
        SplitPolicy(min_seconds=10, part_seconds=part_seconds),
        store,
        uploads,
        engine,
        lambda part: QueuedMessage("test-parts", part.id),
        lambda part_id, stop: run_job(part_id, store, engine, uploads, stop_if=stop),
    )
    run_job(job.id, store, engine, uploads, long_jobs=splitter)
    ended = store.get(job.id)
    assert ended is not None
    return ended


@pytest.mark.model
def test_a_split_job_reads_as_one_run_of_the_whole_recording(
    store: JobStore, engine: WhisperEngine, models_dir: Path, tmp_path: Path, jfk_x4: np.ndarray
) -> None:
    uploads = LocalUploads(tmp_path / "uploads")
    job = split_run(store, engine, uploads, jfk_x4, part_seconds=15)
    assert job.status is JobStatus.COMPLETED, job.error
    plan = store.parts.get(job.id)
    assert plan is not None and len(plan.parts) == 3
    assert job.result is not None
    whole = reference(models_dir, "base", jfk_x4, label="jfk-x4", temperature=[0.0])
    assert wer(whole.text, job.result.text) <= 0.02
    assert job.result.language == whole.language == "en"
    segments = job.result.segments
    assert [s.id for s in segments] == list(range(len(segments)))
    assert [s.start for s in segments] == sorted(s.start for s in segments)
    assert segments[0].start >= 0 and segments[-1].end <= 44.0
    assert job.progress == 1.0
    assert list(uploads.directory.iterdir()) == []  # the parts' audio and the job's, removed
    counts = stats.read(store.redis)  # the job, not its parts; no index of parts kept
    assert counts.submitted == {"base": 1.0}
    assert counts.finished == {("completed", "base"): 1.0}
    assert not any(counts.in_flight.values())
    assert store.redis.zcard(owner_jobs_key(PARTS_OWNER)) == 0
    # DELETE removes everything the job made: its parts' records and text included.
    ids = [job.id, *(part.job_id for part in plan.parts)]
    assert all(store.redis.exists(f"whisper-jobs:job:{i}") for i in ids)
    assert store.delete(job)
    keys = [k.decode() if isinstance(k, bytes) else k for k in store.redis.scan_iter("*")]
    assert [k for k in keys if any(i in k for i in ids)] == []


@pytest.mark.model
def test_a_cut_forced_mid_speech_loses_and_doubles_no_word(
    store: JobStore,
    engine: WhisperEngine,
    models_dir: Path,
    tmp_path: Path,
    jfk_x4: np.ndarray,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Inside "ask not what your country can do for you" (about 4.5 s into each JFK), not in a
    # pause: where the cut would go if no quiet moment were near.
    monkeypatch.setattr(split_jobs, "plan_cuts", lambda *_: [int(15.6 * SR), int(26.6 * SR)])
    job = split_run(store, engine, LocalUploads(tmp_path / "uploads"), jfk_x4, part_seconds=15)
    assert job.status is JobStatus.COMPLETED and job.result is not None
    whole = reference(models_dir, "base", jfk_x4, label="jfk-x4", temperature=[0.0])
    ours, theirs = normalize(job.result.text).split(), normalize(whole.text).split()
    assert abs(len(ours) - len(theirs)) <= 1
    assert wer(whole.text, job.result.text) <= 0.05


@pytest.fixture(scope="module")
def jfk_x4() -> np.ndarray:
    from faster_whisper import decode_audio

    from tests.conftest import JFK

    return np.tile(decode_audio(str(JFK)), 4)
